using System.Text.RegularExpressions;
using Accelerate.Configuration.Launch;

namespace Accelerate.Configuration.Tests;

[TestClass]
public sealed class LaunchSettingsTests
{
    [TestMethod]
    public void Every_option_property_and_short_name_is_spelled_once()
    {
        var spellings = LaunchSettings.All.SelectMany(s => new[] { s.Option, s.ShortName }).OfType<string>().ToList();
        var properties = LaunchSettings.Properties.Select(s => s.Property!).ToList();

        CollectionAssert.AllItemsAreUnique(spellings);
        CollectionAssert.AllItemsAreUnique(properties);
    }

    [TestMethod]
    public void A_spelling_of_another_launcher_names_a_setting_of_the_table()
    {
        foreach (var setting in LaunchSettings.All.Where(s => s.SpellingOf is not null))
            Assert.IsNotNull(LaunchSettings.ByOption(setting.SpellingOf!), $"{setting.Option} is a spelling of '{setting.SpellingOf}', which is not a setting.");
    }

    [TestMethod]
    public void A_choice_lists_its_values_and_a_checked_property_has_a_build_code()
    {
        foreach (var setting in LaunchSettings.All)
            Assert.AreEqual(setting.Kind == LaunchValueKind.Choice, setting.AllowedValues is { Length: > 0 }, setting.Option);
        foreach (var setting in LaunchSettings.Properties.Where(s => s.Kind != LaunchValueKind.Path))
            StringAssert.Matches(setting.InvalidValueCode ?? "", new Regex("^ACC11[0-9]{2}$"), $"{setting.Property} has no build-time code for a bad value.");
    }

    [TestMethod]
    public void The_property_table_of_the_sdk_guide_lists_every_launch_property_with_its_flag()
    {
        // Rows such as: | `NumProcesses` | `--num_processes` | ... |
        var documented = Regex.Matches(RepositoryFiles.Read("docs/sdk.md"), @"^\| `(?<property>\w+)` \| `(?<flag>--\w+)` \|", RegexOptions.Multiline)
            .Select(m => $"{m.Groups["property"].Value} {m.Groups["flag"].Value}")
            .ToHashSet();
        var table = LaunchSettings.Properties.Select(s => $"{s.Property} {s.Flag}").ToHashSet();

        var missing = table.Except(documented).Order().ToList();
        var extra = documented.Except(table).Order().ToList();
        Assert.IsTrue(missing.Count == 0 && extra.Count == 0,
            $"docs/sdk.md's launch property table disagrees with LaunchSettings. Missing rows: [{string.Join(", ", missing)}]; rows no setting has: [{string.Join(", ", extra)}].");
    }
}
