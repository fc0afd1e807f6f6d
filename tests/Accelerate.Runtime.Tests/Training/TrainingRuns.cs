using System.Text.Json.Nodes;
using Accelerate.TrainingWorker;

namespace Accelerate.Runtime.Tests.Training;

/// <summary>Runs a scenario in this process (one rank) and reads its record.</summary>
internal static class TrainingRuns
{
    public static JsonObject InProcess(params string[] args) => Scenarios.Run(Scenarios.Parse(args));

    public static float[] Parameters(JsonObject run) => run["parameters"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray();

    public static float[] Losses(JsonObject run) => run["losses"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray();

    public static double[] Doubles(JsonNode values) => values.AsArray().Select(v => v!.GetValue<double>()).ToArray();

    public static void AssertClose(float[] expected, float[] actual, double tolerance, string what)
    {
        Assert.HasCount(expected.Length, actual, what);
        var worst = expected.Zip(actual, (a, b) => Math.Abs((double)a - b)).Max();
        Assert.IsTrue(worst <= tolerance, $"{what}: largest difference {worst:E3} exceeds {tolerance:E1}");
    }
}
