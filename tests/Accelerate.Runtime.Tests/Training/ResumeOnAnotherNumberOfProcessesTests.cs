using System.Text.Json.Nodes;
using static Accelerate.Runtime.Tests.Training.TrainingRuns;

namespace Accelerate.Runtime.Tests.Training;

/// <summary>
/// Checkpoints saved by 4 ranks resumed by 2, and by 2 ranks resumed by 3, with per-rank and split
/// batches, with and without even batches: every rank records the dataset indices of each batch it
/// read, and the batches before and after the resume together must be the epoch's global order.
/// Three jobs (4, 2 and 3 ranks) run every case, so that processes start once.
/// </summary>
[TestClass]
public sealed class ResumeOnAnotherNumberOfProcessesTests
{
    /// <summary>A case: the dataset, the batch, and the steps before the save and in the whole epoch on the resuming job.</summary>
    private sealed record Case(string Name, int From, int To, long Size, int Batch, bool Split, bool Even, int SavedSteps, int Steps)
    {
        public string[] Arguments => ["optimizer=adam", "size=" + Size, "batch=" + Batch, "split=" + (Split ? "true" : "false"), "even=" + (Even ? "true" : "false")];
    }

    // Sizes chosen so that, without even batches, every rank of the resuming job reads as many batches
    // (the loop reads one epoch; a rank with one batch fewer would wait in the next epoch's all-reduce).
    private static readonly Case[] Cases =
    [
        new("per-rank, even, 4 to 2", 4, 2, 77, 4, false, true, 2, 8),
        new("per-rank, uneven, 4 to 2", 4, 2, 77, 4, false, false, 2, 8),
        new("split, even, 4 to 2", 4, 2, 77, 16, true, true, 2, 5),
        new("split, uneven, 4 to 2", 4, 2, 77, 16, true, false, 2, 5),
        new("per-rank, even, 2 to 3", 2, 3, 50, 4, false, true, 2, 5),
        new("per-rank, uneven, 2 to 3", 2, 3, 50, 4, false, false, 2, 5),
        new("split, even, 2 to 3", 2, 3, 57, 12, true, true, 2, 5),
        new("split, uneven, 2 to 3", 2, 3, 57, 12, true, false, 2, 5),
    ];

    private static string? _checkpoints;
    private static readonly Dictionary<(int world, int run), JsonObject[]> Saved = new();
    private static readonly Dictionary<(int world, int run), JsonObject[]> Resumed = new();

    [ClassInitialize]
    public static void StartJobs(TestContext context)
    {
        _checkpoints = Directory.CreateTempSubdirectory("accelerate-world-size-").FullName;
        var jobs = new Dictionary<int, List<(int index, bool save, string[] args)>> { [4] = new(), [2] = new(), [3] = new() };
        for (var i = 0; i < Cases.Length; i++)
        {
            var c = Cases[i];
            var checkpoint = "checkpoint=" + Path.Combine(_checkpoints, "case" + i);
            jobs[c.From].Add((i, true, [.. c.Arguments, "steps=" + c.SavedSteps, "save_at=" + c.SavedSteps, checkpoint]));
            jobs[c.To].Add((i, false, [.. c.Arguments, "steps=" + c.Steps, "resume=true", checkpoint]));
        }
        // Saves run before the resumes that read them: 4 ranks, then 2, then 3.
        foreach (var world in new[] { 4, 2, 3 })
        {
            var runs = jobs[world].OrderBy(r => r.save ? 1 : 0).ToList();
            var records = TrainingJob.Run(world, "scenario=suite", TrainingJob.Suite(runs.Select(r => r.args).ToArray()));
            for (var j = 0; j < runs.Count; j++)
                (runs[j].save ? Saved : Resumed)[(world, runs[j].index)] = records.Select(r => TrainingJob.RunOf(r, j)).ToArray();
        }
    }

    [ClassCleanup]
    public static void RemoveCheckpoints()
    {
        if (_checkpoints is not null && Directory.Exists(_checkpoints)) Directory.Delete(_checkpoints, recursive: true);
    }

    [TestMethod]
    [DataRow(0)]
    [DataRow(1)]
    [DataRow(2)]
    [DataRow(3)]
    [DataRow(4)]
    [DataRow(5)]
    [DataRow(6)]
    [DataRow(7)]
    public void The_resumed_job_reads_exactly_the_samples_of_the_epoch_the_saving_job_had_not_read(int index)
    {
        var c = Cases[index];
        var before = GlobalSteps(Saved[(c.From, index)]);
        var after = GlobalSteps(Resumed[(c.To, index)]);
        Assert.HasCount(c.SavedSteps, before, c.Name + ": steps before the save");
        Assert.HasCount(c.Steps - c.SavedSteps, after, c.Name + ": steps after the resume");

        // The epoch's global order, then (even batches) padding taken from its start.
        var order = new RankShardPlan(c.Size, 1, 0, 1, shuffle: true, seed: 42, epoch: 0, evenBatches: false, dropLast: false).LocalIndices().ToList();
        var read = before.Concat(after).Sum(s => (long)s.Count);
        Assert.IsGreaterThanOrEqualTo(c.Size, read, c.Name + ": every sample is read");
        var padding = (int)(read - c.Size);
        if (c.Even) Assert.IsLessThan((c.Split ? c.Batch : c.Batch * c.To), padding, c.Name + ": padding fills at most the last step");
        else Assert.AreEqual(0, padding, c.Name + ": no sample read twice without even batches");
        var expected = order.Concat(order.Take(padding)).ToList();

        var offset = 0;
        foreach (var (step, samples) in before.Concat(after).Select((s, i) => (i, s)))
        {
            CollectionAssert.AreEquivalent(expected.GetRange(offset, samples.Count), samples, $"{c.Name}: global step {step} reads the next samples of the epoch's order");
            offset += samples.Count;
        }
        CollectionAssert.AreEquivalent(order, before.Concat(after).SelectMany(s => s).Distinct().ToList(), c.Name + ": none skipped");
    }

    [TestMethod]
    [DataRow(2)]
    [DataRow(6)]
    public void A_job_of_split_batches_resumed_on_another_number_of_processes_reaches_the_parameters_of_one_that_never_stopped(int index)
    {
        var c = Cases[index];
        var uninterrupted = InProcess([.. c.Arguments.Where(a => !a.StartsWith("split=", StringComparison.Ordinal)), "steps=" + c.Steps]);

        foreach (var rank in Resumed[(c.To, index)])
            AssertClose(Parameters(uninterrupted), Parameters(rank), 1e-5, $"{c.Name}: rank {rank["rank"]}");
    }

    /// <summary>The samples of every step over all ranks, ranks in order (a rank without a batch in the last step adds none).</summary>
    private static List<List<long>> GlobalSteps(JsonObject[] ranks)
    {
        var perRank = ranks.Select(r => r["samples"]!.AsArray().Select(b => b!.AsArray().Select(v => v!.GetValue<long>()).ToList()).ToList()).ToList();
        return Enumerable.Range(0, perRank.Max(r => r.Count))
            .Select(step => perRank.Where(r => step < r.Count).SelectMany(r => r[step]).ToList())
            .ToList();
    }
}
