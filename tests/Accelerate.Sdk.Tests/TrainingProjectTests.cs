namespace Accelerate.Sdk.Tests;

/// <summary>
/// A project made of nothing but <c>&lt;Project Sdk="Accelerate.Sdk/VERSION"&gt;</c> and a
/// <c>[TrainingFunction]</c>: the SDK brings the runtime, the generator, libtorch and the launcher.
/// </summary>
[TestClass]
public sealed class TrainingProjectTests
{
    private static string _project = "";
    private static (int ExitCode, string Output) _build;
    private static Lazy<(int ExitCode, string Output)> _solo = null!;

    [ClassInitialize]
    public static void Build(TestContext _)
    {
        _project = PackageFeed.CreateProject("Trainer",
            ("Trainer.csproj", $"""<Project Sdk="Accelerate.Sdk/{PackageFeed.Version}" />"""),
            ("Train.cs", """
                using System.Globalization;
                using Accelerate;
                using static TorchSharp.torch;

                public static class Train
                {
                    // Noisy points, the same on every process; each process trains on its own half of them.
                    // Only ranks whose gradients are averaged end where one process on all of them ends.
                    [TrainingFunction]
                    public static void Run(Accelerator accelerator, string[] args)
                    {
                        random.manual_seed(3);
                        var x = randn(256, 3);
                        var y = x.matmul(tensor(new float[] { 1.5f, -2f, 0.5f }).view(3, 1)) + 0.25f + 0.3f * randn(256, 1);
                        var (inputs, targets) = (accelerator.SplitRowsBetweenProcesses(x), accelerator.SplitRowsBetweenProcesses(y));
                        var network = nn.Linear(3, 1);
                        var (model, optimizer) = accelerator.Prepare(network, optim.SGD(network.parameters(), learningRate: 0.1));
                        float first = 0, last = 0;
                        for (var step = 0; step < 200; step++)
                        {
                            optimizer.zero_grad();
                            var loss = nn.functional.mse_loss(model.forward(inputs), targets);
                            accelerator.Backward(loss);
                            optimizer.step();
                            if (step == 0) first = loss.item<float>();
                            last = loss.item<float>();
                        }
                        var parameters = model.weight!.data<float>().ToArray().Append(model.bias!.item<float>());
                        var weights = string.Join(" ", parameters.Select(w => w.ToString("R", CultureInfo.InvariantCulture)));
                        Console.WriteLine($"trained rank={accelerator.ProcessIndex} world={accelerator.NumProcesses} args={string.Join(",", args)} rows={inputs.shape[0]} first={first:F4} last={last:F6} weights={weights}");
                    }
                }
                """));
        _solo = new Lazy<(int ExitCode, string Output)>(() => DotNet.Run(_project, "run", "--", "solo"));
        _build = DotNet.Run(_project, "build");
    }

    [TestMethod]
    public void It_builds_with_the_runtime_the_generator_and_libtorch()
    {
        Assert.AreEqual(0, _build.ExitCode, _build.Output);
        var output = Path.Combine(_project, "bin", "Debug", "net10.0");
        Assert.IsTrue(File.Exists(Path.Combine(output, "Accelerate.Runtime.dll")), "the runtime");
        Assert.IsTrue(File.Exists(Path.Combine(output, "runtimes", "linux-x64", "native", "libtorch.so")), "libtorch for this machine");
    }

    [TestMethod]
    public void dotnet_run_trains_in_one_process_as_F5_does()
    {
        var (exitCode, output) = _solo.Value;

        Assert.AreEqual(0, exitCode, output);
        var line = TrainedLines(output).Single();
        Assert.AreEqual("0", line["rank"]);
        Assert.AreEqual("1", line["world"]);
        Assert.AreEqual("solo", line["args"]);
        Assert.AreEqual("256", line["rows"]);
        Assert.IsTrue(float.Parse(line["last"]) < float.Parse(line["first"]) / 10, output);
    }

    [TestMethod]
    public void dotnet_run_with_NumProcesses_2_trains_on_both_ranks_and_they_agree()
    {
        var (exitCode, output) = DotNet.Run(_project, "run", "-p:NumProcesses=2", "--", "pair");

        Assert.AreEqual(0, exitCode, output);
        var lines = TrainedLines(output).OrderBy(l => l["rank"]).ToList();
        CollectionAssert.AreEqual(new[] { "0", "1" }, lines.Select(l => l["rank"]).ToArray(), output);
        Assert.IsTrue(lines.All(l => l["world"] == "2" && l["args"] == "pair"), output);
        Assert.IsTrue(lines.All(l => l["rows"] == "128"), "each rank trains on its own half of the points\n" + output);
        Assert.IsTrue(lines.All(l => float.Parse(l["last"]) < float.Parse(l["first"]) / 10), output);
        var solo = TrainedLines(_solo.Value.Output).Single();
        foreach (var line in lines)
        {
            // Unaveraged halves of these points end a few hundredths apart; averaged ones differ from one process only by rounding.
            var difference = Weights(solo).Zip(Weights(line), (a, b) => Math.Abs(a - b)).Max();
            Assert.IsTrue(difference <= 1e-5, $"rank {line["rank"]} ends {difference:E2} from one process trained on every point: {line["weights"]} vs {solo["weights"]}\n{output}");
        }
    }

    [TestMethod]
    public void dotnet_run_t_AccelerateLaunch_launches_with_the_config_files_settings()
    {
        // .NET 10's dotnet run hands -t:AccelerateLaunch to the program; the entry point starts the launch the SDK wrote at build time.
        var home = Path.Combine(PackageFeed.Workspace, "hf-home-two-processes");
        Directory.CreateDirectory(Path.Combine(home, "accelerate"));
        File.WriteAllText(Path.Combine(home, "accelerate", "default_config.yaml"), """
            compute_environment: LOCAL_MACHINE
            distributed_type: MULTI_CPU
            mixed_precision: 'no'
            num_machines: 1
            num_processes: 2
            use_cpu: true
            """);

        var (exitCode, output) = DotNet.Run(_project, TimeSpan.FromMinutes(4), new Dictionary<string, string?> { ["HF_HOME"] = home }, "run", "-t:AccelerateLaunch", "--", "literal");

        Assert.AreEqual(0, exitCode, output);
        var lines = TrainedLines(output).OrderBy(l => l["rank"]).ToList();
        CollectionAssert.AreEqual(new[] { "0", "1" }, lines.Select(l => l["rank"]).ToArray(), output);
        Assert.IsTrue(lines.All(l => l["world"] == "2" && l["args"] == "literal" && l["rows"] == "128"), output);
        StringAssert.Contains(output, "[rank 1] ", "the ranks ran under the launcher, which prefixes their lines");
    }

    [TestMethod]
    public void dotnet_run_t_AccelerateLaunch_with_NumProcesses_gives_the_ranks_only_the_programs_arguments()
    {
        var (exitCode, output) = DotNet.Run(_project, "run", "-t:AccelerateLaunch", "-p:NumProcesses=2", "--", "after");

        Assert.AreEqual(0, exitCode, output);
        var lines = TrainedLines(output);
        Assert.AreEqual(2, lines.Count, output);
        Assert.IsTrue(lines.All(l => l["world"] == "2" && l["args"] == "after"), output);
    }

    [TestMethod]
    public void An_argument_like_it_anywhere_but_first_stays_the_programs_own()
    {
        var (exitCode, output) = DotNet.Run(_project, "run", "--", "first", "-t:AccelerateLaunch");

        Assert.AreEqual(0, exitCode, output);
        var line = TrainedLines(output).Single();
        Assert.AreEqual("1", line["world"], output);
        Assert.AreEqual("first,-t:AccelerateLaunch", line["args"], output);
    }

    private static double[] Weights(Dictionary<string, string> line) =>
        line["weights"].Split(' ').Select(w => double.Parse(w, System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    /// <summary>The <c>trained key=value ...</c> lines, parsed (the weights value holds spaces, so it comes last).</summary>
    internal static List<Dictionary<string, string>> TrainedLines(string output) =>
        output.Split('\n')
            .Select(l => l.Trim())
            .Select(l => l.IndexOf("trained ", StringComparison.Ordinal) is var i and >= 0 ? l[(i + 8)..] : null)
            .OfType<string>()
            .Select(l =>
            {
                var weights = l.IndexOf(" weights=", StringComparison.Ordinal);
                var pairs = l[..weights].Split(' ').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
                pairs["weights"] = l[(weights + 9)..];
                return pairs;
            })
            .ToList();

    [TestMethod]
    public void MainTrainingFunction_in_the_project_picks_the_function_for_a_direct_run_and_a_launch()
    {
        var project = PackageFeed.CreateProject("Chooser",
            ("Chooser.csproj", $"""
                <Project Sdk="Accelerate.Sdk/{PackageFeed.Version}">
                  <PropertyGroup>
                    <MainTrainingFunction>finetune</MainTrainingFunction>
                  </PropertyGroup>
                </Project>
                """),
            ("Functions.cs", """
                using Accelerate;

                public static class Functions
                {
                    [TrainingFunction(Name = "pretrain")]
                    public static void Pretrain(Accelerator accelerator) => Console.WriteLine($"pretrain on {accelerator.ProcessIndex}");

                    [TrainingFunction(Name = "finetune")]
                    public static void Finetune(Accelerator accelerator) => Console.WriteLine($"finetune on {accelerator.ProcessIndex}");
                }
                """));

        var direct = DotNet.Run(project, "run");
        var launched = DotNet.Run(project, "run", "--no-build", "-p:NumProcesses=2");

        Assert.AreEqual(0, direct.ExitCode, direct.Output);
        StringAssert.Contains(direct.Output, "finetune on 0");
        Assert.IsFalse(direct.Output.Contains("[rank", StringComparison.Ordinal), "MainTrainingFunction alone runs the program directly");
        Assert.AreEqual(0, launched.ExitCode, launched.Output);
        StringAssert.Contains(launched.Output, "[rank 0] finetune on 0");
        StringAssert.Contains(launched.Output, "[rank 1] finetune on 1");
        Assert.IsFalse(launched.Output.Contains("pretrain on", StringComparison.Ordinal), launched.Output);
    }
}
