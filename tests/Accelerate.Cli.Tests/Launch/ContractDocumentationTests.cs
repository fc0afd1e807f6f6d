using System.Reflection;
using System.Text.RegularExpressions;
using Accelerate.Cli.Launch;

namespace Accelerate.Cli.Tests.Launch;

/// <summary>docs/launch-contract.md against what the launcher sets: the page is the contract users read.</summary>
[TestClass]
public sealed class ContractDocumentationTests
{
    [TestMethod]
    public void The_contract_page_lists_exactly_the_variables_a_rank_gets()
    {
        // Every optional variable set: --debug, --gpu_ids and --main_training_function.
        var plan = LaunchPlanResolver.Resolve(
            LaunchArguments.Parse(["--cpu", "--debug", "--gpu_ids", "0", "--main_training_function", "pretrain", "app.dll"]),
            null, _ => null, gpuCount: 0, cores: 2);
        var set = RankEnvironment.For(plan, new JobIdentity("job", new string('a', 64), 29500), 0, 0, "/tmp/error.json", "/tmp/stopping").Keys.ToHashSet();

        var root = typeof(ContractDocumentationTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "RepoRoot").Value!;
        var page = File.ReadAllText(Path.Combine(root, "docs", "launch-contract.md"));
        // The first column of the variable table: | `RANK` | or | `ROLE_RANK`, `ROLE_WORLD_SIZE`, `ROLE_NAME` |
        var documented = Regex.Matches(page, @"^\| (?<names>`[A-Z_]+`(, `[A-Z_]+`)*) \|", RegexOptions.Multiline)
            .SelectMany(m => Regex.Matches(m.Groups["names"].Value, "`([A-Z_]+)`").Select(n => n.Groups[1].Value))
            .ToHashSet();

        var undocumented = set.Except(documented).Order().ToList();
        var notSet = documented.Except(set).Order().ToList();
        Assert.IsTrue(undocumented.Count == 0 && notSet.Count == 0,
            $"docs/launch-contract.md disagrees with the launcher. Set but not documented: [{string.Join(", ", undocumented)}]; documented but not set: [{string.Join(", ", notSet)}].");
    }
}
