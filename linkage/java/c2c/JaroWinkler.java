package c2c;

import java.nio.charset.StandardCharsets;
import org.apache.spark.sql.api.java.UDF2;

/**
 * DuckDB's jaro_winkler_similarity as a Spark SQL function (linkage/udf_jar.py builds it).
 *
 * <p>The Spark backend must score a pair exactly as DuckDB does. The jar Splink ships has a
 * jaro_winkler that differs by up to 0.09; a Python UDF running DuckDB itself is exact, but
 * every pair then crosses to a Python worker and back (most of Spark's predict time). This is
 * the same algorithm in the JVM, on UTF-8 bytes as DuckDB computes it (JOSÉ / JOSE is 0.848,
 * not the 0.883 of code points): standard Jaro, match window max(len) / 2 - 1, half the
 * transpositions; Winkler's boost of 0.1 per common prefix byte (up to 4) above 0.7. Equal
 * to DuckDB's result, bit for bit, on the tests' name pairs.
 */
public final class JaroWinkler implements UDF2<String, String, Double> {
    private static final long serialVersionUID = 1L;

    static double jaro(byte[] a, byte[] b) {
        if (a.length == 0 || b.length == 0) {
            return 0.0;
        }
        int window = Math.max(0, Math.max(a.length, b.length) / 2 - 1);
        boolean[] used = new boolean[b.length];
        byte[] matchedA = new byte[a.length];
        int m = 0;
        for (int i = 0; i < a.length; i++) {
            int lo = Math.max(0, i - window);
            int hi = Math.min(b.length, i + window + 1);
            for (int j = lo; j < hi; j++) {
                if (!used[j] && b[j] == a[i]) {
                    used[j] = true;
                    matchedA[m++] = a[i];
                    break;
                }
            }
        }
        if (m == 0) {
            return 0.0;
        }
        int k = 0;
        int halfTranspositions = 0;
        for (int j = 0; j < b.length; j++) {
            if (used[j]) {
                if (b[j] != matchedA[k]) {
                    halfTranspositions++;
                }
                k++;
            }
        }
        int t = halfTranspositions / 2;
        return ((double) m / a.length + (double) m / b.length + (double) (m - t) / m) / 3;
    }

    public static Double similarity(String left, String right) {
        if (left == null || right == null) {
            return null;
        }
        byte[] a = left.getBytes(StandardCharsets.UTF_8);
        byte[] b = right.getBytes(StandardCharsets.UTF_8);
        double sim = jaro(a, b);
        if (sim <= 0.7) {
            return sim;
        }
        int prefix = 0;
        int n = Math.min(4, Math.min(a.length, b.length));
        while (prefix < n && a[prefix] == b[prefix]) {
            prefix++;
        }
        return sim + prefix * 0.1 * (1 - sim);
    }

    @Override
    public Double call(String left, String right) {
        return similarity(left, right);
    }
}
