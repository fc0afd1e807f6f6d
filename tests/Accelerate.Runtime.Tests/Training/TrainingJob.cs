using System.Reflection;
using System.Text.Json.Nodes;
using Accelerate.Runtime.Tests.Distributed;

namespace Accelerate.Runtime.Tests.Training;

/// <summary>Runs the ranks of one training job as real TrainingWorker processes and reads every rank's record.</summary>
internal static class TrainingJob
{
    public static string WorkerPath => Metadata("TrainingWorker");

    /// <summary>A path the build baked into this assembly (worker programs, the accelerate CLI).</summary>
    public static string Metadata(string key) => typeof(TrainingJob).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == key).Value!;

    /// <summary>Starts <paramref name="worldSize"/> ranks with <paramref name="args"/>, waits for them, and returns their records in rank order.</summary>
    public static JsonObject[] Run(int worldSize, params string[] args)
    {
        var directory = Directory.CreateTempSubdirectory("accelerate-training-");
        try
        {
            using var job = new RankProcesses();
            var port = RankProcesses.FreePort();
            var secret = RankProcesses.NewSecret();
            var output = Path.Combine(directory.FullName, "result.{rank}.json");
            for (var rank = 0; rank < worldSize; rank++)
                job.Start(RankProcesses.Contract(rank, worldSize, port, secret), ["dotnet", WorkerPath, .. args, "out=" + output]);
            job.WaitForAll(TimeSpan.FromSeconds(150));
            foreach (var rank in job.Ranks)
                Assert.AreEqual(0, rank.Process.ExitCode, "every rank exits 0:\n" + job.Describe());
            return Enumerable.Range(0, worldSize)
                .Select(r => JsonNode.Parse(File.ReadAllText(output.Replace("{rank}", r.ToString())))!.AsObject())
                .ToArray();
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    /// <summary>
    /// Starts <paramref name="worldSize"/> ranks with <paramref name="args"/> and returns them running;
    /// <paramref name="adjust"/> may change a rank's environment. The caller waits for them and disposes them.
    /// </summary>
    public static RankProcesses Start(int worldSize, string[] args, Action<int, Dictionary<string, string?>>? adjust = null)
    {
        var job = new RankProcesses();
        var port = RankProcesses.FreePort();
        var secret = RankProcesses.NewSecret();
        for (var rank = 0; rank < worldSize; rank++)
        {
            var environment = RankProcesses.Contract(rank, worldSize, port, secret);
            adjust?.Invoke(rank, environment);
            job.Start(environment, ["dotnet", WorkerPath, .. args]);
        }
        return job;
    }

    /// <summary>A suite argument: several runs in one job, each a list of key=value pairs.</summary>
    public static string Suite(params string[][] runs) => "runs=" + string.Join("|", runs.Select(r => string.Join(",", r)));

    public static JsonObject RunOf(JsonObject rankRecord, int index) => rankRecord["runs"]![index]!.AsObject();
}
