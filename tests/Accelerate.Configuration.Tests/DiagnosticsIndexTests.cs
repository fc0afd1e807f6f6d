using System.Text.RegularExpressions;

namespace Accelerate.Configuration.Tests;

/// <summary>docs/diagnostics.md, the index of every diagnostic code, against the codes the sources use.</summary>
[TestClass]
public sealed partial class DiagnosticsIndexTests
{
    private static readonly string[] SourceExtensions = [".cs", ".props", ".targets", ".md"];

    [TestMethod]
    public void Every_code_in_the_sources_has_one_row_in_the_index_and_every_row_a_code()
    {
        var used = Directory.EnumerateFiles(RepositoryFiles.Path("src"), "*", SearchOption.AllDirectories)
            .Where(f => SourceExtensions.Contains(Path.GetExtension(f)) && !IsBuildOutput(f))
            .SelectMany(f => Code().Matches(File.ReadAllText(f)).Select(m => m.Value))
            .ToHashSet();
        var rows = IndexRow().Matches(RepositoryFiles.Read("docs/diagnostics.md")).Select(m => m.Groups["code"].Value).ToList();
        var indexed = rows.ToHashSet();

        var missing = used.Except(indexed).Order().ToList();
        var unused = indexed.Except(used).Order().ToList();
        var repeated = rows.GroupBy(c => c).Where(g => g.Count() > 1).Select(g => g.Key).Order().ToList();
        Assert.IsTrue(missing.Count == 0 && unused.Count == 0 && repeated.Count == 0,
            "docs/diagnostics.md disagrees with src/. "
            + $"Codes in src/ without a row: [{string.Join(", ", missing)}]. "
            + $"Rows whose code nothing in src/ uses: [{string.Join(", ", unused)}]. "
            + $"Codes with more than one row: [{string.Join(", ", repeated)}].");
    }

    [TestMethod]
    public void Every_row_has_an_anchor_named_after_its_code_a_meaning_and_a_fix()
    {
        foreach (Match row in IndexRow().Matches(RepositoryFiles.Read("docs/diagnostics.md")))
        {
            var code = row.Groups["code"].Value;
            Assert.AreEqual(code.ToLowerInvariant(), row.Groups["anchor"].Value, $"the anchor of {code}");
            Assert.IsFalse(string.IsNullOrWhiteSpace(row.Groups["meaning"].Value), $"{code} has no meaning");
            Assert.IsFalse(string.IsNullOrWhiteSpace(row.Groups["fix"].Value), $"{code} has no fix");
        }
    }

    private static bool IsBuildOutput(string file) =>
        file.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj");

    [GeneratedRegex(@"\bACC(?:[0-9]{4}|G[0-9]{3})\b")]
    private static partial Regex Code();

    // | <a id="acc3003"></a>ACC3003 | meaning | fix | more |
    [GeneratedRegex(@"^\| <a id=""(?<anchor>[^""]*)""></a>(?<code>ACC(?:[0-9]{4}|G[0-9]{3})) \| (?<meaning>[^|]*) \| (?<fix>[^|]*) \|", RegexOptions.Multiline)]
    private static partial Regex IndexRow();
}
