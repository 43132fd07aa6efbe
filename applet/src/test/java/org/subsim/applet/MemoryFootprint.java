package org.subsim.applet;

import java.lang.reflect.Array;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.TreeMap;
import javacard.framework.JCSystem;
import javacard.security.Key;
import javacard.security.KeyBuilder;
import javacard.security.KeyPair;

/**
 * What an applet allocated, counted from its object graph (jCardSim's
 * JCSystem.getAvailableMemory answers 32767 whatever is allocated, so it cannot tell).
 *
 * <p>Walks every object reachable from the applet's fields, the way the card's heap holds
 * them, and sums:
 * <ul>
 *   <li>arrays: their elements (byte and boolean 1, short 2, reference 2 bytes each), persistent
 *       or transient as {@code JCSystem.isTransient} says (CLEAR_ON_DESELECT, CLEAR_ON_RESET);
 *   <li>the fields of the applet's own objects and of javacard.framework objects such as
 *       OwnerPIN (walked like the applet's: their arrays count as arrays);
 *   <li>keys by type and size: the key material the Java Card API makes a key object hold
 *       (RSA CRT private: five half-size values; RSA public: modulus and a 4-byte exponent; EC:
 *       the private value or point plus the domain parameters p, a, b, G, r and k, which every EC
 *       key object carries in the API); transient key types count as transient memory;
 *   <li>crypto engines (Signature, Cipher, KeyAgreement, RandomData, MessageDigest, ...): counted,
 *       not sized: their working memory is the platform's and no Java Card API tells it.
 * </ul>
 * Not counted: object headers (platform-specific, typically 4-8 bytes each: {@link #objects}
 * says how many there are), the code, the static final arrays of the CAP's static image
 * (counted apart in {@link #staticBytes}).
 */
final class MemoryFootprint {
  long persistent;
  long clearOnDeselect;
  long clearOnReset;
  long staticBytes;
  int objects;
  int engines;
  final Map<String, Integer> keys = new TreeMap<>();
  /** Transient bytes by the field that first reached them ("Class.field"). */
  final Map<String, Long> transientByField = new TreeMap<>();

  private final IdentityHashMap<Object, Boolean> seen = new IdentityHashMap<>();

  static MemoryFootprint of(Object root) {
    MemoryFootprint f = new MemoryFootprint();
    f.walk(root);
    return f;
  }

  long transientBytes() {
    return clearOnDeselect + clearOnReset;
  }

  @Override
  public String toString() {
    return String.format(
        "persistent %d bytes, transient %d bytes (CLEAR_ON_DESELECT %d, CLEAR_ON_RESET %d); %d objects (headers not counted), "
            + "%d crypto engines (working memory not counted), static arrays %d bytes; keys %s",
        persistent, transientBytes(), clearOnDeselect, clearOnReset, objects, engines, staticBytes, keys);
  }

  private void add(Object o, String field, long bytes) {
    byte t = JCSystem.isTransient(o);
    if (t == JCSystem.CLEAR_ON_DESELECT) {
      clearOnDeselect += bytes;
      transientByField.merge(field + " (deselect)", bytes, Long::sum);
    } else if (t == JCSystem.CLEAR_ON_RESET) {
      clearOnReset += bytes;
      transientByField.merge(field + " (reset)", bytes, Long::sum);
    } else {
      persistent += bytes;
    }
  }

  private void walk(Object root) {
    Deque<Object> todo = new java.util.LinkedList<>(); // takes nulls (empty fields)
    Deque<String> from = new java.util.LinkedList<>(); // the field each entry of todo came from
    todo.push(root);
    from.push("root");
    while (!todo.isEmpty()) {
      Object o = todo.pop();
      String field = from.pop();
      if (o == null || seen.put(o, Boolean.TRUE) != null) {
        continue;
      }
      objects++;
      Class<?> c = o.getClass();
      if (c.isArray()) {
        int n = Array.getLength(o);
        Class<?> e = c.getComponentType();
        add(o, field, (long) n * (e == short.class ? 2 : e.isPrimitive() ? 1 : 2));
        if (!e.isPrimitive()) {
          for (int i = 0; i < n; i++) {
            todo.push(Array.get(o, i));
            from.push(field + "[]");
          }
        }
      } else if (o instanceof KeyPair) {
        KeyPair kp = (KeyPair) o;
        todo.push(kp.getPublic());
        from.push(field + ".public");
        todo.push(kp.getPrivate());
        from.push(field + ".private");
        persistent += 4; // two references
      } else if (o instanceof Key) {
        key((Key) o);
      } else if (isEngine(c)) {
        engines++;
      } else if (isWalked(c)) {
        fields(o, todo, from);
      } else {
        throw new IllegalStateException("cannot size a " + c.getName() + ": teach MemoryFootprint about it");
      }
    }
  }

  private static boolean isWalked(Class<?> c) {
    String n = c.getName();
    return n.startsWith("org.subsim.") || n.startsWith("javacard.framework.");
  }

  private static boolean isEngine(Class<?> c) {
    for (Class<?> k = c; k != null; k = k.getSuperclass()) {
      switch (k.getName()) {
        case "javacard.security.Signature":
        case "javacardx.crypto.Cipher":
        case "javacard.security.KeyAgreement":
        case "javacard.security.RandomData":
        case "javacard.security.MessageDigest":
        case "javacard.security.Checksum":
        case "javacard.security.InitializedMessageDigest":
          return true;
        default:
      }
    }
    return false;
  }

  private void fields(Object o, Deque<Object> todo, Deque<String> from) {
    for (Class<?> k = o.getClass(); k != null && k != Object.class; k = k.getSuperclass()) {
      for (Field f : k.getDeclaredFields()) {
        if (Modifier.isStatic(f.getModifiers())) {
          continue;
        }
        Class<?> t = f.getType();
        persistent += t == short.class ? 2 : t.isPrimitive() ? 1 : 2;
        if (!t.isPrimitive()) {
          f.setAccessible(true);
          try {
            todo.push(f.get(o));
            from.push(k.getSimpleName() + "." + f.getName());
          } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
          }
        }
      }
    }
  }

  private void key(Key k) {
    int bytes = (k.getSize() + 7) / 8;
    byte type = k.getType();
    long material;
    String kind;
    switch (type) {
      case KeyBuilder.TYPE_RSA_CRT_PRIVATE:
      case KeyBuilder.TYPE_RSA_CRT_PRIVATE_TRANSIENT_DESELECT:
      case KeyBuilder.TYPE_RSA_CRT_PRIVATE_TRANSIENT_RESET:
        material = 5L * (bytes / 2);
        kind = "RSA-CRT-private-" + k.getSize();
        break;
      case KeyBuilder.TYPE_RSA_PRIVATE:
      case KeyBuilder.TYPE_RSA_PRIVATE_TRANSIENT_DESELECT:
      case KeyBuilder.TYPE_RSA_PRIVATE_TRANSIENT_RESET:
        material = 2L * bytes;
        kind = "RSA-private-" + k.getSize();
        break;
      case KeyBuilder.TYPE_RSA_PUBLIC:
        material = bytes + 4;
        kind = "RSA-public-" + k.getSize();
        break;
      case KeyBuilder.TYPE_EC_FP_PRIVATE:
      case KeyBuilder.TYPE_EC_FP_PRIVATE_TRANSIENT_DESELECT:
      case KeyBuilder.TYPE_EC_FP_PRIVATE_TRANSIENT_RESET:
        material = bytes + 6L * bytes + 1 + 2; // S; p, a, b, G (2f+1), r; k
        kind = "EC-private-" + k.getSize();
        break;
      case KeyBuilder.TYPE_EC_FP_PUBLIC:
        material = 2L * bytes + 1 + 6L * bytes + 1 + 2; // W; p, a, b, G, r; k
        kind = "EC-public-" + k.getSize();
        break;
      default:
        material = bytes; // DES, AES, HMAC: the key bytes
        kind = "secret-type" + type + "-" + k.getSize();
    }
    switch (type) {
      case KeyBuilder.TYPE_DES_TRANSIENT_DESELECT:
      case KeyBuilder.TYPE_AES_TRANSIENT_DESELECT:
      case KeyBuilder.TYPE_HMAC_TRANSIENT_DESELECT:
      case KeyBuilder.TYPE_RSA_CRT_PRIVATE_TRANSIENT_DESELECT:
      case KeyBuilder.TYPE_RSA_PRIVATE_TRANSIENT_DESELECT:
      case KeyBuilder.TYPE_EC_FP_PRIVATE_TRANSIENT_DESELECT:
        clearOnDeselect += material;
        kind += "-transient-deselect";
        break;
      case KeyBuilder.TYPE_DES_TRANSIENT_RESET:
      case KeyBuilder.TYPE_AES_TRANSIENT_RESET:
      case KeyBuilder.TYPE_HMAC_TRANSIENT_RESET:
      case KeyBuilder.TYPE_RSA_CRT_PRIVATE_TRANSIENT_RESET:
      case KeyBuilder.TYPE_RSA_PRIVATE_TRANSIENT_RESET:
      case KeyBuilder.TYPE_EC_FP_PRIVATE_TRANSIENT_RESET:
        clearOnReset += material;
        kind += "-transient-reset";
        break;
      default:
        persistent += material;
    }
    keys.merge(kind + (k.isInitialized() ? "" : "(empty)"), 1, Integer::sum);
  }

  /** The static arrays of the given classes (the CAP's static field image). */
  MemoryFootprint withStatics(Class<?>... classes) {
    for (Class<?> c : classes) {
      for (Field f : c.getDeclaredFields()) {
        if (Modifier.isStatic(f.getModifiers()) && f.getType().isArray()) {
          f.setAccessible(true);
          try {
            Object a = f.get(null);
            if (a != null) {
              Class<?> e = a.getClass().getComponentType();
              staticBytes += (long) Array.getLength(a) * (e == short.class ? 2 : 1);
            }
          } catch (IllegalAccessException ex) {
            throw new IllegalStateException(ex);
          }
        }
      }
    }
    return this;
  }
}
