//! The Java applet's constants are generated from this crate: the committed
//! `Spec.java` must be exactly what `applet_spec::java::spec_java` writes now.

#[test]
fn committed_spec_java_is_current() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = root.join(applet_spec::java::JAVA_PATH);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == applet_spec::java::spec_java(),
        "{} is stale: run `cargo run -p applet-spec --bin gen-java` and commit it",
        path.display()
    );
}
