//! Writes the Java Card applet's `Spec.java` from applet-spec (run from the workspace root).

fn main() -> std::io::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = root.join(applet_spec::java::JAVA_PATH);
    std::fs::write(&path, applet_spec::java::spec_java())?;
    println!("{}", path.display());
    Ok(())
}
