namespace Accelerate.Configuration.Tests;

/// <summary>The HF-style config files in <c>Fixtures/</c>.</summary>
internal static class Fixtures
{
    public static string Path(string name) => System.IO.Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    public static IEnumerable<object[]> All =>
        Directory.GetFiles(System.IO.Path.Combine(AppContext.BaseDirectory, "Fixtures")).Order().Select(f => new object[] { System.IO.Path.GetFileName(f) });
}
