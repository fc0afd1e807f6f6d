namespace Accelerate.Generators.Tests;

/// <summary>
/// Compares text with a file under Snapshots/. Set ACCELERATE_ACCEPT_SNAPSHOTS=1 to write the
/// actual text as the new expected file (then review the diff and commit it).
/// </summary>
internal static class Snapshot
{
    public const string AcceptVariable = "ACCELERATE_ACCEPT_SNAPSHOTS";

    public static void Match(string name, string actual)
    {
        var path = Path.Combine(TestPaths.SnapshotDirectory, name);
        actual = Normalize(actual);
        if (Environment.GetEnvironmentVariable(AcceptVariable) is "1" or "true")
        {
            Directory.CreateDirectory(TestPaths.SnapshotDirectory);
            File.WriteAllText(path, actual);
            return;
        }
        if (!File.Exists(path))
            Assert.Fail($"No snapshot {path}. Run the tests with {AcceptVariable}=1 to create it, review it, and commit it. Actual:\n{actual}");
        var expected = Normalize(File.ReadAllText(path));
        if (expected != actual)
            Assert.Fail($"The text differs from the snapshot {path} (first difference at line {FirstDifferentLine(expected, actual)}). " +
                        $"If the change is intended, run the tests with {AcceptVariable}=1 and commit the new snapshot.\nActual:\n{actual}");
    }

    private static string Normalize(string text) => text.Replace("\r\n", "\n");

    private static int FirstDifferentLine(string expected, string actual)
    {
        var e = expected.Split('\n');
        var a = actual.Split('\n');
        for (var i = 0; i < Math.Min(e.Length, a.Length); i++)
            if (e[i] != a[i]) return i + 1;
        return Math.Min(e.Length, a.Length) + 1;
    }
}
