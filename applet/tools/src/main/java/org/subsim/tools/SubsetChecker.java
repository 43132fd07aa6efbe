package org.subsim.tools;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.FieldVisitor;
import org.objectweb.asm.Handle;
import org.objectweb.asm.Label;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;

/**
 * Checks class files against the Java Card 3.0.5 classic language subset (Java Card 3.0.5
 * Virtual Machine Specification, chapter 2: "Java Card Language Subset"), for a chip without
 * the optional int type, and against the API packages a converter links without extra export
 * files: javacard.framework, javacard.security, javacardx.crypto, javacardx.apdu and
 * java.lang's Object and exceptions.
 *
 * <p>Refused: long, float, double and char (types, constants and opcodes); int-typed fields,
 * parameters, return values, local variables (from the debug tables) and arrays; arrays of more
 * than one dimension; String, StringBuilder and any class outside the allowed packages (the
 * checked classes themselves excepted); synchronized methods and blocks; invokedynamic
 * (lambdas, string concatenation); native methods; class literals; static initialisers doing
 * more than filling primitive arrays with constants; class files newer than Java 8; and, outside
 * the methods that run only at install (constructors, static initialisers, {@code install}, and
 * the class's own methods that only those call), allocation (new, newarray, anewarray,
 * JCSystem.makeTransient*, getInstance, buildKey: a card has no garbage collector to count on)
 * and field writes (an object's fields are persistent: a write per command wears EEPROM and is
 * outside any transaction unless the caller opened one; per-command state belongs in arrays).
 *
 * <p>javac computes short arithmetic in int (iadd, then i2s): int opcodes on the operand stack
 * are what the converter turns into short ones, so they are not refused here.
 *
 * <p>Usage: {@code java org.subsim.tools.SubsetChecker CLASSES_DIR}: prints one line per
 * violation and exits 1 if there is any.
 */
public final class SubsetChecker {

    /** java.lang classes a Java Card 3.0.5 applet may use (the API's java.lang package). */
    static final Set<String> JAVA_LANG = Set.of(
            "java/lang/Object", "java/lang/Throwable", "java/lang/Exception",
            "java/lang/RuntimeException", "java/lang/ArithmeticException",
            "java/lang/ArrayIndexOutOfBoundsException", "java/lang/ArrayStoreException",
            "java/lang/ClassCastException", "java/lang/IndexOutOfBoundsException",
            "java/lang/NegativeArraySizeException", "java/lang/NullPointerException",
            "java/lang/SecurityException");

    /** API packages the converter's built-in export files cover. */
    static final List<String> PACKAGES = List.of("javacard/framework/", "javacard/security/", "javacardx/crypto/", "javacardx/apdu/");

    /** Java 8. */
    static final int MAX_CLASS_VERSION = Opcodes.V1_8;

    /** One refusal: where, and why. */
    public record Violation(String where, String rule) {
        @Override
        public String toString() {
            return where + ": " + rule;
        }
    }

    private final Set<String> own = new HashSet<>();
    private final List<Violation> violations = new ArrayList<>();

    /** Checks every class under {@code dir}. */
    public static List<Violation> checkDirectory(Path dir) throws IOException {
        List<byte[]> classes = new ArrayList<>();
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) files.filter(f -> f.toString().endsWith(".class")).sorted()::iterator) {
                classes.add(Files.readAllBytes(p));
            }
        }
        return check(classes);
    }

    /** Checks these class files as one package set (they may use one another). */
    public static List<Violation> check(List<byte[]> classFiles) {
        SubsetChecker c = new SubsetChecker();
        for (byte[] b : classFiles) {
            c.own.add(new ClassReader(b).getClassName());
        }
        for (byte[] b : classFiles) {
            new ClassReader(b).accept(c.new ClassCheck(), 0);
        }
        return c.violations;
    }

    /** Reads a class from the class path (for tests). */
    public static byte[] classBytes(Class<?> k) throws IOException {
        try (InputStream in = k.getResourceAsStream("/" + k.getName().replace('.', '/') + ".class")) {
            return in.readAllBytes();
        }
    }

    private void refuse(String where, String rule) {
        violations.add(new Violation(where, rule));
    }

    private boolean allowedClass(String internal) {
        if (own.contains(internal) || JAVA_LANG.contains(internal)) {
            return true;
        }
        for (String p : PACKAGES) {
            if (internal.startsWith(p) && internal.indexOf('/', p.length()) < 0) {
                return true;
            }
        }
        return false;
    }

    /** Checks one type as used in a descriptor. */
    private void checkType(String where, Type t, String role) {
        switch (t.getSort()) {
            case Type.LONG, Type.FLOAT, Type.DOUBLE, Type.CHAR ->
                    refuse(where, role + " of type " + t.getClassName() + " (not in the Java Card subset)");
            case Type.INT -> refuse(where, role + " of type int (no int option)");
            case Type.ARRAY -> {
                if (t.getDimensions() > 1) {
                    refuse(where, role + ": multi-dimensional array " + t.getClassName());
                }
                Type e = t.getElementType();
                if (e.getSort() == Type.INT) {
                    refuse(where, role + ": int array (no int option)");
                } else {
                    checkType(where, e, role + " element");
                }
            }
            case Type.OBJECT -> checkClass(where, t.getInternalName());
            default -> { }
        }
    }

    private void checkClass(String where, String internal) {
        if (internal.startsWith("[")) {
            checkType(where, Type.getType(internal), "array class");
        } else if (!allowedClass(internal)) {
            refuse(where, "uses " + internal.replace('/', '.') + " (outside javacard.framework, javacard.security, "
                    + "javacardx.crypto, javacardx.apdu and java.lang's Object and exceptions)");
        }
    }

    private void checkDescriptor(String where, String desc) {
        Type m = Type.getType(desc);
        if (m.getSort() == Type.METHOD) {
            for (Type a : m.getArgumentTypes()) {
                checkType(where, a, "parameter");
            }
            checkType(where, m.getReturnType(), "return value");
        } else {
            checkType(where, m, "field");
        }
    }

    /** Calls whose result is a new object: they allocate as {@code new} does. */
    static final Set<String> ALLOCATING_CALLS = Set.of(
            "makeTransientByteArray", "makeTransientShortArray", "makeTransientBooleanArray",
            "makeTransientObjectArray", "getInstance", "buildKey");

    /** Methods that run only at install, before any command: where allocation belongs. */
    static final Set<String> INSTALL_ROOTS = Set.of("<init>", "<clinit>", "install");

    /** What one method does that is allowed only at install, and which own methods it calls. */
    private static final class MethodFacts {
        final String where;
        final List<String> allocations = new ArrayList<>();
        final List<String> fieldWrites = new ArrayList<>();
        final Set<String> calls = new HashSet<>();

        MethodFacts(String where) {
            this.where = where;
        }
    }

    private final class ClassCheck extends ClassVisitor {
        String name;
        /** By name + descriptor, in the class file's order. */
        final Map<String, MethodFacts> methods = new LinkedHashMap<>();

        ClassCheck() {
            super(Opcodes.ASM9);
        }

        @Override
        public void visit(int version, int access, String name, String sig, String superName, String[] interfaces) {
            this.name = name;
            if ((version & 0xFFFF) > MAX_CLASS_VERSION) {
                refuse(name, "class file version " + (version & 0xFFFF) + " is newer than Java 8 (52)");
            }
            if (superName != null) {
                checkClass(name, superName);
            }
            for (String i : interfaces) {
                checkClass(name, i);
            }
        }

        @Override
        public FieldVisitor visitField(int access, String fname, String desc, String sig, Object value) {
            checkDescriptor(name + "." + fname, desc);
            return null;
        }

        @Override
        public MethodVisitor visitMethod(int access, String mname, String desc, String sig, String[] exceptions) {
            String where = name + "." + mname + desc;
            checkDescriptor(where, desc);
            if ((access & Opcodes.ACC_SYNCHRONIZED) != 0) {
                refuse(where, "synchronized method");
            }
            if ((access & Opcodes.ACC_NATIVE) != 0) {
                refuse(where, "native method");
            }
            MethodFacts facts = new MethodFacts(where);
            methods.put(mname + desc, facts);
            return mname.equals("<clinit>") ? new StaticInitCheck(where, name, facts) : new CodeCheck(where, name, facts);
        }

        /** The install-only closure: roots, then own methods every caller of which is install-only. */
        @Override
        public void visitEnd() {
            Set<String> installOnly = new HashSet<>();
            for (String key : methods.keySet()) {
                if (INSTALL_ROOTS.contains(key.substring(0, key.indexOf('(')))) {
                    installOnly.add(key);
                }
            }
            for (boolean grew = true; grew; ) {
                grew = false;
                for (String key : methods.keySet()) {
                    if (installOnly.contains(key)) {
                        continue;
                    }
                    boolean called = false;
                    boolean onlyFromInstall = true;
                    for (Map.Entry<String, MethodFacts> caller : methods.entrySet()) {
                        if (caller.getValue().calls.contains(key)) {
                            called = true;
                            onlyFromInstall &= installOnly.contains(caller.getKey());
                        }
                    }
                    if (called && onlyFromInstall) {
                        grew = installOnly.add(key);
                    }
                }
            }
            for (Map.Entry<String, MethodFacts> e : methods.entrySet()) {
                if (installOnly.contains(e.getKey())) {
                    continue;
                }
                MethodFacts f = e.getValue();
                if (!f.allocations.isEmpty()) {
                    refuse(f.where, "allocates after install: " + String.join(", ", f.allocations)
                            + " (allocate in the constructor or install)");
                }
                if (!f.fieldWrites.isEmpty()) {
                    refuse(f.where, "writes a field after install: " + String.join(", ", f.fieldWrites)
                            + " (fields are persistent: EEPROM writes, outside any transaction unless the caller"
                            + " opened one; keep such state in arrays)");
                }
            }
        }
    }

    /** Opcodes of the types Java Card 3.0.5 has not, or int arrays (no int option). */
    private static String refusedOpcode(int op) {
        if ((op >= Opcodes.LCONST_0 && op <= Opcodes.DCONST_1)
                || op == Opcodes.LLOAD || op == Opcodes.FLOAD || op == Opcodes.DLOAD
                || op == Opcodes.LSTORE || op == Opcodes.FSTORE || op == Opcodes.DSTORE
                || op == Opcodes.LALOAD || op == Opcodes.FALOAD || op == Opcodes.DALOAD
                || op == Opcodes.LASTORE || op == Opcodes.FASTORE || op == Opcodes.DASTORE
                || (op >= Opcodes.LADD && op <= Opcodes.DNEG && (op - Opcodes.IADD) % 4 != 0)
                || op == Opcodes.LSHL || op == Opcodes.LSHR || op == Opcodes.LUSHR
                || op == Opcodes.LAND || op == Opcodes.LOR || op == Opcodes.LXOR
                || (op >= Opcodes.I2L && op <= Opcodes.D2F)
                || (op >= Opcodes.LCMP && op <= Opcodes.DCMPG)
                || op == Opcodes.LRETURN || op == Opcodes.FRETURN || op == Opcodes.DRETURN) {
            return "long/float/double opcode " + op;
        }
        if (op == Opcodes.I2C || op == Opcodes.CALOAD || op == Opcodes.CASTORE) {
            return "char opcode " + op;
        }
        if (op == Opcodes.IALOAD || op == Opcodes.IASTORE) {
            return "int array access (no int option)";
        }
        if (op == Opcodes.MONITORENTER || op == Opcodes.MONITOREXIT) {
            return "synchronized block";
        }
        return null;
    }

    private class CodeCheck extends MethodVisitor {
        final String where;
        final String owner;
        final MethodFacts facts;

        CodeCheck(String where, String owner, MethodFacts facts) {
            super(Opcodes.ASM9);
            this.where = where;
            this.owner = owner;
            this.facts = facts;
        }

        @Override
        public void visitInsn(int op) {
            String why = refusedOpcode(op);
            if (why != null) {
                refuse(where, why);
            }
        }

        @Override
        public void visitVarInsn(int op, int var) {
            visitInsn(op);
        }

        @Override
        public void visitIntInsn(int op, int operand) {
            if (op == Opcodes.NEWARRAY) {
                facts.allocations.add("newarray");
                switch (operand) {
                    case Opcodes.T_BOOLEAN, Opcodes.T_BYTE, Opcodes.T_SHORT -> { }
                    case Opcodes.T_INT -> refuse(where, "new int array (no int option)");
                    default -> refuse(where, "new array of a type not in the Java Card subset (" + operand + ")");
                }
            }
        }

        @Override
        public void visitTypeInsn(int op, String type) {
            checkClass(where, type);
            if (op == Opcodes.NEW || op == Opcodes.ANEWARRAY) {
                facts.allocations.add((op == Opcodes.NEW ? "new " : "anewarray ") + type.replace('/', '.'));
            }
        }

        @Override
        public void visitFieldInsn(int op, String fowner, String fname, String desc) {
            checkClass(where, fowner);
            checkDescriptor(where + " -> " + fname, desc);
            if (op == Opcodes.PUTFIELD || op == Opcodes.PUTSTATIC) {
                facts.fieldWrites.add(fowner.replace('/', '.') + "." + fname);
            }
        }

        @Override
        public void visitMethodInsn(int op, String mowner, String mname, String desc, boolean itf) {
            checkClass(where, mowner);
            checkDescriptor(where + " -> " + mowner + "." + mname, desc);
            if (ALLOCATING_CALLS.contains(mname)) {
                facts.allocations.add(mowner.replace('/', '.') + "." + mname);
            }
            if (mowner.equals(owner)) {
                facts.calls.add(mname + desc);
            }
        }

        @Override
        public void visitMultiANewArrayInsn(String desc, int dims) {
            refuse(where, "multi-dimensional array " + desc);
            facts.allocations.add("multianewarray");
        }

        @Override
        public void visitInvokeDynamicInsn(String mname, String desc, Handle bsm, Object... args) {
            refuse(where, "invokedynamic (a lambda or string concatenation)");
        }

        @Override
        public void visitLdcInsn(Object value) {
            if (value instanceof String) {
                refuse(where, "String constant");
            } else if (value instanceof Long || value instanceof Float || value instanceof Double) {
                refuse(where, value.getClass().getSimpleName() + " constant");
            } else if (value instanceof Integer i && (i < Short.MIN_VALUE || i > Short.MAX_VALUE)) {
                refuse(where, "int constant " + i + " outside short (no int option)");
            } else if (value instanceof Type) {
                refuse(where, "class literal");
            }
        }

        @Override
        public void visitLocalVariable(String lname, String desc, String sig, Label s, Label e, int index) {
            checkType(where, Type.getType(desc), "local variable " + lname);
        }

        @Override
        public void visitTryCatchBlock(Label s, Label e, Label h, String type) {
            if (type != null) {
                checkClass(where, type);
            }
        }
    }

    /**
     * A static initialiser may only fill primitive arrays with constants and store constants
     * (Java Card 3.0.5 VM Specification, 2.2.4.6: static field initialisation).
     */
    private final class StaticInitCheck extends CodeCheck {
        StaticInitCheck(String where, String owner, MethodFacts facts) {
            super(where, owner, facts);
        }

        private void notConstant(String what) {
            refuse(where, "static initialiser does " + what + " (only constant primitive arrays are allowed)");
        }

        @Override
        public void visitInsn(int op) {
            super.visitInsn(op);
            boolean ok = (op >= Opcodes.ICONST_M1 && op <= Opcodes.ICONST_5) || op == Opcodes.DUP
                    || op == Opcodes.BASTORE || op == Opcodes.SASTORE || op == Opcodes.RETURN
                    || op == Opcodes.ACONST_NULL;
            if (!ok) {
                notConstant("opcode " + op);
            }
        }

        @Override
        public void visitIntInsn(int op, int operand) {
            super.visitIntInsn(op, operand);
            if (op != Opcodes.BIPUSH && op != Opcodes.SIPUSH && op != Opcodes.NEWARRAY) {
                notConstant("opcode " + op);
            }
        }

        @Override
        public void visitTypeInsn(int op, String type) {
            super.visitTypeInsn(op, type);
            notConstant("new " + type.replace('/', '.'));
        }

        @Override
        public void visitFieldInsn(int op, String fowner, String fname, String desc) {
            super.visitFieldInsn(op, fowner, fname, desc);
            if (op != Opcodes.PUTSTATIC) {
                notConstant("a field read");
            }
        }

        @Override
        public void visitMethodInsn(int op, String mowner, String mname, String desc, boolean itf) {
            super.visitMethodInsn(op, mowner, mname, desc, itf);
            notConstant("a call to " + mowner.replace('/', '.') + "." + mname);
        }

        @Override
        public void visitVarInsn(int op, int var) {
            super.visitVarInsn(op, var);
            notConstant("a local variable");
        }

        @Override
        public void visitJumpInsn(int op, Label label) {
            notConstant("a branch");
        }
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: SubsetChecker CLASSES_DIR");
            System.exit(2);
        }
        Path dir = Paths.get(args[0]);
        List<Violation> v = checkDirectory(dir);
        for (Violation x : v) {
            System.out.println("java card subset: " + x);
        }
        if (!v.isEmpty()) {
            System.out.println("java card subset: " + v.size() + " violation(s) in " + dir);
            System.exit(1);
        }
        System.out.println("java card subset: ok (" + dir + ")");
    }
}
