using System.Diagnostics;
using System.Reflection;
using Accelerate.Hosting;
using Accelerate.Runtime.Tests.Training;
using TorchSharp;

namespace Accelerate.Runtime.Tests.Hosting;

/// <summary>The host run in this process, with its environment and stderr replaced.</summary>
[TestClass]
public sealed class TrainingHostTests
{
    private readonly StringWriter _error = new();
    private readonly Dictionary<string, string?> _variables = new();
    private readonly List<int> _exits = [];

    [TestMethod]
    [DataRow("void", 0)]
    [DataRow("int", 5)]
    [DataRow("task", 0)]
    [DataRow("task-int", 6)]
    public void The_exit_code_is_the_functions(string shape, int expected)
    {
        var function = shape switch
        {
            "void" => TrainingFunction.FromVoid("f", "F()", _ => { }),
            "int" => TrainingFunction.FromInt32("f", "F()", _ => 5),
            "task" => TrainingFunction.FromTask("f", "F()", async _ => await Task.Yield()),
            _ => TrainingFunction.FromTaskOfInt32("f", "F()", async _ => { await Task.Yield(); return 6; }),
        };

        Assert.AreEqual(expected, Run(function));
        Assert.AreEqual("", _error.ToString());
    }

    [TestMethod]
    public void The_function_gets_the_arguments_and_a_token_not_yet_cancelled()
    {
        string[]? seen = null;
        var cancelled = true;
        Run(TrainingFunction.FromVoid("f", "F()", context =>
        {
            seen = context.Arguments;
            cancelled = context.CancellationToken.IsCancellationRequested;
        }), "a", "b");

        CollectionAssert.AreEqual(new[] { "a", "b" }, seen);
        Assert.IsFalse(cancelled);
    }

    [TestMethod]
    public void An_exception_exits_1_prints_it_with_the_rank_and_writes_the_error_record()
    {
        var errorFile = Path.Combine(Path.GetTempPath(), "accelerate-host-" + Guid.NewGuid().ToString("N") + ".json");
        _variables["TORCHELASTIC_ERROR_FILE"] = errorFile;
        _variables["RANK"] = "0";
        _variables["WORLD_SIZE"] = "1";
        try
        {
            var code = Run(TrainingFunction.FromTask("f", "F()", async _ =>
            {
                await Task.Yield();
                throw new InvalidDataException("broken batch");
            }));

            Assert.AreEqual(TrainingHost.ExceptionExitCode, code);
            StringAssert.StartsWith(_error.ToString(), "[rank 0] System.IO.InvalidDataException: broken batch");
            StringAssert.Contains(File.ReadAllText(errorFile), "\"message\":\"System.IO.InvalidDataException: broken batch\"");
        }
        finally
        {
            File.Delete(errorFile);
        }
    }

    [TestMethod]
    [DataRow("ACCELERATE_LAUNCHER_PID", "launcher", "ACC2305")]
    [DataRow("WORLD_SIZE", "two", "ACC2002")]
    public void A_malformed_variable_exits_2_naming_it_before_the_function_runs(string name, string value, string code)
    {
        _variables["RANK"] = "0";
        _variables["WORLD_SIZE"] = "1";
        _variables[name] = value;
        var ran = false;

        var exit = Run(TrainingFunction.FromVoid("f", "F()", _ => ran = true));

        Assert.AreEqual(TrainingHost.SetupErrorExitCode, exit);
        Assert.IsFalse(ran);
        // Under accelerate launch (ACCELERATE_LAUNCHER_PID set) the launcher adds the prefix.
        var prefix = name == "ACCELERATE_LAUNCHER_PID" ? "" : "[rank 0] ";
        StringAssert.StartsWith(_error.ToString(), $"{prefix}{code}: ");
        StringAssert.Contains(_error.ToString(), $"{name}='{value}'");
    }

    [TestMethod]
    public void When_the_launcher_is_gone_the_token_is_cancelled_and_the_rank_stops()
    {
        using var launcher = Process.Start(new ProcessStartInfo("sleep", "600") { UseShellExecute = false })!;
        _variables["ACCELERATE_LAUNCHER_PID"] = launcher.Id.ToString();
        using var started = new ManualResetEventSlim();
        try
        {
            var run = Task.Run(() => Run(TrainingFunction.FromTask("f", "F()", async context =>
            {
                started.Set();
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
            })));
            Assert.IsTrue(started.Wait(TimeSpan.FromSeconds(30)));

            launcher.Kill();

            Assert.IsTrue(run.Wait(TimeSpan.FromSeconds(30)), "The function's token was not cancelled.");
            Assert.AreEqual(TrainingHost.LauncherGoneExitCode, run.Result);
            StringAssert.Contains(_error.ToString(), $"ACC2303: the launcher (pid {launcher.Id}) is gone");
        }
        finally
        {
            if (!launcher.HasExited) launcher.Kill();
        }
    }

    [TestMethod]
    public void A_function_that_ignores_its_token_is_stopped_after_the_grace_period()
    {
        using var stop = new ManualResetEventSlim();
        using var exited = new ManualResetEventSlim();
        _variables["ACCELERATE_LAUNCHER_PID"] = "2147483646"; // no such process
        var options = Options() with { Exit = code => { lock (_exits) _exits.Add(code); exited.Set(); }, LauncherGoneGrace = TimeSpan.FromMilliseconds(100) };

        var run = Task.Run(() => TrainingHost.Run([], null, [TrainingFunction.FromVoid("f", "F()", _ => stop.Wait(TimeSpan.FromSeconds(60)))], options));
        try
        {
            Assert.IsTrue(exited.Wait(TimeSpan.FromSeconds(30)), "The host did not stop the rank.");
            CollectionAssert.AreEqual(new[] { TrainingHost.LauncherGoneExitCode }, _exits);
        }
        finally
        {
            stop.Set();
            run.Wait(TimeSpan.FromSeconds(30));
        }
    }

    [TestMethod]
    [DataRow("bf16")]
    [DataRow("fp16")]
    public void An_fp32_tensor_meeting_the_weights_under_mixed_precision_is_ACC2240_with_the_fix_and_no_native_stack(string precision)
    {
        using var _ = new EnvironmentScope(("ACCELERATE_MIXED_PRECISION", precision));

        var code = Run(TrainingFunction.FromVoid("f", "F()", context =>
        {
            var model = context.Accelerator.PrepareModel(TorchSharp.torch.nn.Linear(1, 1));
            // A single module run with forward: no hook sees the input, so nothing converts it.
            model.forward(TorchSharp.torch.randn(4, 1));
        }));

        Assert.AreEqual(TrainingHost.ExceptionExitCode, code);
        var error = _error.ToString();
        StringAssert.Contains(error, "ACC2240: Mixed precision " + precision);
        StringAssert.Contains(error, "model.call(x)");
        StringAssert.Contains(error, "mat1 and mat2 must have the same dtype");
        Assert.DoesNotContain("frame #", error, "libtorch's C++ stack is left out");
        StringAssert.Contains(error, "TrainingHostTests", "the .NET stack shows where it happened");
    }

    [TestMethod]
    public void Reading_a_bf16_loss_with_item_float_is_ACC2246_with_a_way_that_works()
    {
        using var _ = new EnvironmentScope(("ACCELERATE_MIXED_PRECISION", "bf16"));
        float suggested = 0;

        var code = Run(TrainingFunction.FromVoid("f", "F()", context =>
        {
            var accelerator = context.Accelerator;
            var model = accelerator.PrepareModel(TorchSharp.torch.nn.Linear(1, 1));
            var rows = accelerator.SplitRowsBetweenProcesses(TorchSharp.torch.randn(4, 1));
            var loss = TorchSharp.torch.nn.functional.mse_loss(model.forward(rows), rows);
            suggested = loss.ToSingle();
            Console.WriteLine(loss.item<float>());
        }));

        Assert.AreEqual(TrainingHost.ExceptionExitCode, code);
        var error = _error.ToString();
        StringAssert.Contains(error, "ACC2246: A bf16 tensor was read as a .NET number of another type");
        StringAssert.Contains(error, "t.ToSingle()");
        Assert.IsTrue(suggested > 0, "the way the message suggests reads the bf16 loss");
    }

    [TestMethod]
    public void The_Accelerator_is_built_on_first_use_and_only_once()
    {
        var built = 0;
        var context = new TrainingContext([], CancellationToken.None, () => { built++; return new Accelerator(); });

        Assert.IsNull(context.CreatedAccelerator);
        _ = context.Accelerator;
        _ = context.Accelerator;
        Assert.AreEqual(1, built);
    }

    [TestMethod]
    public void The_debugger_steps_through_the_host_into_user_code()
    {
        foreach (var type in new[] { typeof(TrainingHost), typeof(TrainingFunction), typeof(TrainingContext) })
            Assert.IsNotNull(type.GetCustomAttribute<DebuggerNonUserCodeAttribute>(), $"{type.Name} is not marked [DebuggerNonUserCode].");
        var run = typeof(TrainingHost).GetMethod(nameof(TrainingHost.Run), [typeof(string[]), typeof(string), typeof(TrainingFunction[])])!;
        Assert.IsNotNull(run.GetCustomAttribute<DebuggerStepThroughAttribute>());
    }

    [TestMethod]
    public void A_first_argument_t_AccelerateLaunch_runs_the_launch_command_the_sdk_wrote_instead_of_the_function()
    {
        var ran = false;
        var launch = new RunLaunch("/bin/sh", "-c \"exit $(( $# + 6 ))\" launcher");

        var code = TrainingHost.Run(["-t:AccelerateLaunch", "a b"], null, [TrainingFunction.FromVoid("f", "F()", _ => ran = true)], Options() with { FindRunLaunch = () => launch });

        Assert.AreEqual(7, code, "the launch command's exit code, given the program's one other argument");
        Assert.IsFalse(ran);
    }

    [TestMethod]
    [DataRow(true, "a")]
    [DataRow(false, "-t:AccelerateLaunch,a")]
    public void A_rank_the_launcher_started_drops_the_argument_only_when_the_sdk_wrote_a_launch_command(bool written, string expected)
    {
        _variables["ACCELERATE_LAUNCHER_PID"] = Environment.ProcessId.ToString();
        string[]? seen = null;

        TrainingHost.Run(["-t:AccelerateLaunch", "a"], null, [TrainingFunction.FromVoid("f", "F()", context => seen = context.Arguments)],
            Options() with { FindRunLaunch = () => written ? new RunLaunch("/bin/false", "") : null });

        Assert.AreEqual(expected, string.Join(",", seen!));
    }

    private int Run(TrainingFunction function, params string[] args) => TrainingHost.Run(args, null, [function], Options() with { FindRunLaunch = () => null });

    private TrainingHost.HostOptions Options() =>
        new(name => _variables.GetValueOrDefault(name), _error, code => { lock (_exits) _exits.Add(code); }, HandleSignals: false, LauncherGoneGrace: TimeSpan.FromSeconds(30));
}
