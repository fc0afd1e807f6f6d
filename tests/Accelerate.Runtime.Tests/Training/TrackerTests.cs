using System.Text.Json.Nodes;
using Accelerate.Tracking;

namespace Accelerate.Runtime.Tests.Training;

/// <summary>Trackers and loggers in one process: what they write, and the errors for bad settings.</summary>
[TestClass]
public sealed class TrackerTests
{
    private DirectoryInfo _logs = null!;

    [TestInitialize]
    public void CreateFolder() => _logs = Directory.CreateTempSubdirectory("accelerate-trackers-");

    [TestCleanup]
    public void RemoveFolder() => _logs.Delete(recursive: true);

    [TestMethod]
    public void An_unknown_tracker_name_is_an_error_that_lists_the_trackers()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { LogDirectory = _logs.FullName, LogWith = ["wandb"] });

        var error = Assert.ThrowsExactly<AccelerateException>(() => accelerator.InitTrackers("project"));

        Assert.AreEqual("ACC2231", error.Code);
        StringAssert.Contains(error.Message, "'wandb'");
        StringAssert.Contains(error.Message, "tensorboard, jsonl");
    }

    [TestMethod]
    public void Get_tracker_of_a_tracker_not_selected_is_an_error_that_names_the_option()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { LogDirectory = _logs.FullName });

        var error = Assert.ThrowsExactly<AccelerateException>(() => accelerator.GetTracker("jsonl"));

        Assert.AreEqual("ACC2231", error.Code);
        StringAssert.Contains(error.Message, "LogWith");
        Assert.IsInstanceOfType<TensorBoardTracker>(accelerator.GetTracker("tensorboard"));
    }

    [TestMethod]
    public void Init_trackers_after_the_first_log_is_an_error()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { LogDirectory = _logs.FullName });
        accelerator.Log(new Dictionary<string, double> { ["loss"] = 1 });

        var error = Assert.ThrowsExactly<AccelerateException>(() => accelerator.InitTrackers("project"));

        Assert.AreEqual("ACC2232", error.Code);
    }

    [TestMethod]
    public void An_empty_tracker_list_writes_nothing()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { LogDirectory = _logs.FullName, LogWith = [] });

        accelerator.InitTrackers("project", new Dictionary<string, object?> { ["lr"] = 0.1 });
        accelerator.Log(new Dictionary<string, double> { ["loss"] = 1 }, reduce: MetricReduction.Mean);
        accelerator.EndTraining();

        Assert.IsEmpty(Directory.GetFileSystemEntries(_logs.FullName, "*", SearchOption.AllDirectories));
    }

    [TestMethod]
    public void Json_lines_keep_non_finite_values_and_stringify_other_hyper_parameters()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { LogDirectory = _logs.FullName, LogWith = ["jsonl"] });

        accelerator.InitTrackers("project", new Dictionary<string, object?> { ["precision"] = MixedPrecision.Bf16, ["seed"] = null });
        accelerator.Log(new Dictionary<string, double> { ["loss"] = double.NaN, ["grad"] = double.PositiveInfinity }, step: 7);
        accelerator.EndTraining();

        var lines = File.ReadAllLines(Path.Combine(_logs.FullName, "project", "metrics.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.AreEqual(MixedPrecision.Bf16.ToString(), lines[0]["config"]!["precision"]!.GetValue<string>());
        Assert.AreEqual("None", lines[0]["config"]!["seed"]!.GetValue<string>());
        Assert.AreEqual(7, lines[1]["step"]!.GetValue<long>());
        Assert.AreEqual("NaN", lines[1]["values"]!["loss"]!.GetValue<string>());
        Assert.AreEqual("Infinity", lines[1]["values"]!["grad"]!.GetValue<string>());
    }

    [TestMethod]
    public void Two_runs_of_one_process_into_one_folder_write_two_event_files()
    {
        for (var run = 0; run < 2; run++)
        {
            var accelerator = new Accelerator(new AcceleratorOptions { LogDirectory = _logs.FullName });
            accelerator.Log(new Dictionary<string, double> { ["loss"] = run }, step: 1);
        }

        var events = Directory.GetFiles(_logs.FullName, "events.out.tfevents.*");
        Assert.HasCount(2, events);
        CollectionAssert.AreEquivalent(new[] { 0f, 1f }, events.Select(e => TensorBoardEvents.ReadScalars(e).Single().Value).ToArray());
    }

    [TestMethod]
    public void An_unknown_log_level_is_an_error_that_lists_the_levels()
    {
        using var level = new EnvironmentScope(("ACCELERATE_LOG_LEVEL", "loud"));
        var accelerator = new Accelerator(new AcceleratorOptions { LogDirectory = _logs.FullName });

        var error = Assert.ThrowsExactly<AccelerateException>(() => accelerator.GetLogger("train"));

        Assert.AreEqual("ACC2233", error.Code);
        StringAssert.Contains(error.Message, "ACCELERATE_LOG_LEVEL='loud'");
        StringAssert.Contains(error.Message, "warning");
    }
}
