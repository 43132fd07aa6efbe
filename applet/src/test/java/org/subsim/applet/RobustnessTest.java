package org.subsim.applet;

import static org.junit.jupiter.api.Assertions.*;
import static org.subsim.applet.Card.hex;

import com.licel.jcardsim.base.SimulatorRuntime;
import com.licel.jcardsim.utils.AIDUtil;
import java.lang.reflect.Array;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Random;
import java.util.Set;
import javacard.framework.AID;
import org.junit.jupiter.api.Test;

/**
 * What the conformance suite cannot see from outside: no 6F00 and no changed state for bad
 * input, transactions closed after every command, nothing allocated after install, session
 * state gone at deselect.
 */
class RobustnessTest {
  static SimulatorRuntime runtime(Card card) throws Exception {
    Field f = com.licel.jcardsim.base.Simulator.class.getDeclaredField("runtime");
    f.setAccessible(true);
    return (SimulatorRuntime) f.get(card.sim);
  }

  static SubSimApplet applet(Card card) throws Exception {
    Method m = SimulatorRuntime.class.getDeclaredMethod("getApplet", AID.class);
    m.setAccessible(true);
    return (SubSimApplet) m.invoke(runtime(card), card.aid);
  }

  /** Everything a host can see of the card's persistent state. */
  static String state(Card card) {
    StringBuilder s = new StringBuilder();
    s.append(card.cmd(0x80, 0x3A, 0, 0, (byte[]) null)).append('|');
    s.append(card.cmd(0, 0xCB, 0x3F, 0xFF, "5C035FFF20")).append('|');
    for (int ref : new int[] {0x80, 0x81, 0x9B, 0x9A, 0x9C, 0x9D, 0x9E, 0x82, 0xF9}) {
      s.append(card.cmd(0, 0xF7, 0, ref, (byte[]) null)).append('|');
    }
    for (String tag : new String[] {"5FC102", "5FC107", "5FC105", "5FC10C", "5FFF01"}) {
      s.append(card.cmd(0, 0xCB, 0x3F, 0xFF, "5C03" + tag)).append('|');
    }
    return s.toString();
  }

  @Test
  void ins_sweep_never_6f00_and_errors_change_nothing() throws Exception {
    Card card = new Card();
    card.select();
    assertEquals(0x9000, card.authenticate().sw);
    assertEquals(0x9000, card.cmd(0, 0x47, 0, 0x9A, "AC03800111").sw);
    assertEquals(0x9000, card.cmd(0, 0xDB, 0x3F, 0xFF, "5C035FC105530401020304").sw);
    card.select(); // 9B stays authenticated on re-select; the sweep runs without it:
    card = freshWithKeys();
    SimulatorRuntime rt = runtime(card);
    Random r = new Random(17);
    String before = state(card);
    int commands = 0;
    for (int cla : new int[] {0x00, 0x80}) {
      for (int ins = 0; ins < 256; ins++) {
        for (int k = 0; k < 6; k++) {
          int p1 = k == 0 ? 0 : r.nextInt(256);
          int p2 = k == 0 ? 0 : (k == 1 ? 0x9A : r.nextInt(256));
          int n = k < 2 ? 0 : r.nextInt(k == 5 ? 256 : 24);
          byte[] data = new byte[n];
          r.nextBytes(data);
          if (k == 3 && n > 2) {
            data[0] = 0x7C; // a template of the right tag, wrong inside
            data[1] = (byte) (n - 2);
          }
          int le = r.nextBoolean() ? -1 : r.nextInt(256);
          Card.Rapdu a = card.send(cla, ins, p1, p2, data, le);
          commands++;
          int sw = a.getSW();
          String what = String.format("%02X %02X %02X %02X +%d -> %04X", cla, ins, p1, p2, n, sw);
          assertNotEquals(0x6F00, sw, what);
          assertEquals(0, rt.getTransactionDepth(), "transaction left open: " + what);
          boolean success = sw == 0x9000 || (sw & 0xFF00) == 0x6100 || (sw & 0xFFF0) == 0x63C0;
          if (!success) {
            String after = state(card);
            assertEquals(before, after, "an error changed the state: " + what);
          } else {
            before = state(card);
          }
        }
      }
    }
    assertEquals(3072, commands);
  }

  @Test
  void chained_hostile_data_never_6f00_and_errors_change_nothing() throws Exception {
    Card card = freshWithKeys();
    assertEquals(0x9000, card.authenticate().sw); // with 9B: the commands get further in
    Random r = new Random(23);
    int[] ins = {0xCB, 0xDB, 0x87, 0x47, 0xFE, 0x24, 0x2C, 0x20, 0xFF, 0x36, 0x38, 0x32};
    String[] heads = {"7C82", "7C81", "5C035FC10553820", "AC82", "0182", "06", "5C03", "7C8201068200818201"};
    String before = state(card);
    for (int k = 0; k < 400; k++) {
      int i = ins[r.nextInt(ins.length)];
      int cla = i >= 0x30 && i <= 0x3E ? 0x80 : 0x00;
      byte[] data = new byte[256 + r.nextInt(1800)];
      r.nextBytes(data);
      String h = heads[r.nextInt(heads.length)];
      byte[] head = hex(h.length() % 2 == 0 ? h : h + "0");
      System.arraycopy(head, 0, data, 0, head.length);
      if (r.nextBoolean() && data.length > 4) {
        // A length that fits or nearly fits the rest.
        int rest = data.length - 4 + r.nextInt(3) - 1;
        data[2] = (byte) (rest >> 8);
        data[3] = (byte) rest;
      }
      int p1 = r.nextInt(4) == 0 ? r.nextInt(256) : (i == 0xCB || i == 0xDB ? 0x3F : (i == 0x87 ? 0x07 : 0));
      int p2 = r.nextInt(4) == 0 ? r.nextInt(256) : (i == 0xCB || i == 0xDB ? 0xFF : 0x9A);
      Card.Answer a = card.cmd(cla, i, p1, p2, data);
      String what = String.format("%02X %02X %02X +%d -> %04X", i, p1, p2, data.length, a.sw);
      assertNotEquals(0x6F00, a.sw, what);
      assertEquals(0, runtime(card).getTransactionDepth(), what);
      boolean success = a.sw == 0x9000 || (a.sw & 0xFFF0) == 0x63C0;
      String after = state(card);
      if (!success) {
        assertEquals(before, after, "an error changed the state: " + what);
      }
      before = after;
    }
  }

  static Card freshWithKeys() throws Exception {
    Card card = new Card();
    card.select();
    assertEquals(0x9000, card.authenticate().sw);
    assertEquals(0x9000, card.cmd(0, 0x47, 0, 0x9A, "AC03800111").sw);
    assertEquals(0x9000, card.cmd(0, 0x47, 0, 0x9C, "AC03800111").sw);
    assertEquals(0x9000, card.cmd(0, 0xDB, 0x3F, 0xFF, "5C035FC105530401020304").sw);
    // A new session: nothing authenticated, nothing verified.
    card.sim.reset();
    card.select();
    return card;
  }

  /** Every object reachable from the applet through our classes' fields (others: leaves). */
  static Set<Object> graph(Object root) throws Exception {
    Set<Object> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    ArrayDeque<Object> todo = new ArrayDeque<>();
    todo.add(root);
    while (!todo.isEmpty()) {
      Object o = todo.pop();
      if (o == null || !seen.add(o)) {
        continue;
      }
      Class<?> c = o.getClass();
      if (c.isArray()) {
        if (!c.getComponentType().isPrimitive()) {
          for (int i = 0; i < Array.getLength(o); i++) {
            Object x = Array.get(o, i);
            if (x != null) {
              todo.add(x);
            }
          }
        }
        continue;
      }
      if (!c.getName().startsWith("org.subsim.applet")) {
        continue; // a platform object (key, cipher, PIN): a leaf
      }
      for (Class<?> k = c; k != null; k = k.getSuperclass()) {
        for (Field f : k.getDeclaredFields()) {
          if (Modifier.isStatic(f.getModifiers()) || f.getType().isPrimitive()) {
            continue;
          }
          f.setAccessible(true);
          Object x = f.get(o);
          if (x != null) {
            todo.add(x);
          }
        }
      }
    }
    return seen;
  }

  @Test
  void nothing_is_allocated_after_install() throws Exception {
    Card card = new Card();
    SubSimApplet a = applet(card);
    Set<Object> atInstall = graph(a);
    card.select();
    assertEquals(0x9000, card.authenticate().sw);
    for (String alg : new String[] {"06", "07", "11", "14"}) {
      assertEquals(0x9000, card.cmd(0, 0x47, 0, 0x9A, "AC038001" + alg).sw);
      assertEquals(0x9000, card.cmd(0, 0x47, 0, 0x85, "AC038001" + alg).sw);
    }
    assertEquals(0x9000, card.cmd(0, 0xDB, 0x3F, 0xFF, PivCoreTest.concat(hex("5C035FC10A538203E8"), new byte[1000])).sw);
    assertEquals(0x9000, card.verify("123456").sw);
    card.cmd(0x80, 0x30, 0, 0, (byte[]) null);
    assertEquals(0x9000, card.cmd(0x80, 0x36, 0, 0, new byte[20]).sw);
    assertEquals(0x9000, card.cmd(0x80, 0x38, 0, 0, new byte[20]).sw);
    assertEquals(0x9000, card.cmd(0x80, 0x3C, 0, 0, (byte[]) null).sw);
    Set<Object> after = graph(a);
    assertEquals(atInstall.size(), after.size());
    for (Object o : after) {
      assertTrue(atInstall.contains(o), "allocated after install: " + o.getClass());
    }
  }

  @Test
  void session_state_is_cleared_on_deselect() throws Exception {
    Card card = new Card();
    AID other = AIDUtil.create("F000000001");
    card.sim.installApplet(other, OtherApplet.class);
    card.select();
    assertEquals(0x9000, card.verify("123456").sw);
    assertEquals(0x9000, card.cmd(0x80, 0x30, 0, 0, (byte[]) null).sw);
    assertEquals(0x9000, card.cmd(0, 0x87, 0x03, 0x9B, "7C028100").sw);
    SubSimApplet a = applet(card);
    card.sim.selectApplet(other);
    for (String name : new String[] {"st", "ts", "out", "mgmBlock", "scratchHash", "parts"}) {
      Field f = SubSimApplet.class.getDeclaredField(name);
      f.setAccessible(true);
      Object arr = f.get(a);
      for (int i = 0; i < Array.getLength(arr); i++) {
        assertEquals(0, ((Number) Array.get(arr, i)).intValue(), name + "[" + i + "] after deselect");
      }
    }
    Field sc = SubSimApplet.class.getDeclaredField("scratch");
    sc.setAccessible(true);
    byte[] scratch = (byte[]) sc.get(a);
    assertArrayEquals(new byte[scratch.length], scratch, "scratch wiped at deselect");
    card.select();
    assertEquals(0x63C3, card.cmd(0, 0x20, 0, 0x80, (byte[]) null).sw, "PIN state gone");
    assertEquals(0x6985, card.cmd(0x80, 0x32, 0, 0x80, new byte[6]).sw, "keypad layout gone");
    assertEquals(0x6985, card.cmd(0, 0x87, 0x03, 0x9B, "7C0A82080000000000000000").sw, "challenge gone");
  }

  @Test
  void reselect_keeps_pin_and_drops_keypad_and_pending_challenge() throws Exception {
    Card card = new Card();
    card.select();
    assertEquals(0x9000, card.verify("123456").sw);
    assertEquals(0x9000, card.cmd(0x80, 0x30, 0, 0, (byte[]) null).sw);
    assertEquals(0x9000, card.cmd(0, 0x87, 0x03, 0x9B, "7C028100").sw);
    card.select();
    assertEquals(0x6985, card.cmd(0x80, 0x32, 0, 0x80, new byte[6]).sw, "keypad layout gone");
    assertEquals(0x6985, card.cmd(0, 0x87, 0x03, 0x9B, "7C0A82080000000000000000").sw, "challenge gone");
    int sw = card.cmd(0, 0x20, 0, 0x80, (byte[]) null).sw;
    // The model keeps the PIN state on re-select; jCardSim clears CLEAR_ON_DESELECT
    // memory when the same applet is selected again, so either is reported here.
    assertTrue(sw == 0x9000 || sw == 0x63C3, String.format("%04X", sw));
  }

  @Test
  void keypad_layouts_are_permutations() {
    Card card = new Card();
    card.select();
    int[][] counts = new int[10][10];
    int draws = 2000;
    for (int i = 0; i < draws; i++) {
      byte[] l = card.cmd(0x80, 0x30, 0, 0, (byte[]) null).data;
      boolean[] seen = new boolean[10];
      for (int p = 0; p < 10; p++) {
        assertFalse(seen[l[p]], Arrays.toString(l));
        seen[l[p]] = true;
        counts[p][l[p]]++;
      }
    }
    // Each digit at each position about draws/10 times: a chi-square over 100 cells, 81
    // degrees of freedom; 140 is beyond p = 0.0001.
    double chi = 0;
    double e = draws / 10.0;
    for (int[] row : counts) {
      for (int c : row) {
        chi += (c - e) * (c - e) / e;
      }
    }
    assertTrue(chi < 140, "chi-square " + chi);
  }
}
