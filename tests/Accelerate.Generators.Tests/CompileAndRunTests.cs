using Microsoft.CodeAnalysis;

namespace Accelerate.Generators.Tests;

/// <summary>Each accepted shape, compiled with its generated entry point and run as a real process.</summary>
[TestClass]
public sealed class CompileAndRunTests
{
    private string _directory = "";

    [TestInitialize]
    public void CreateDirectory() => _directory = Path.Combine(Path.GetTempPath(), "accelerate-generator-tests", Guid.NewGuid().ToString("N"));

    [TestCleanup]
    public void DeleteDirectory()
    {
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }

    [TestMethod]
    public void A_void_function_runs_and_exits_0()
    {
        var (code, program) = Run(Shapes.VoidWithoutParameters);
        Assert.AreEqual(0, code, program.Describe());
        Assert.AreEqual("ran", program.StandardOutput);
    }

    [TestMethod]
    public void An_int_function_gets_the_arguments_and_its_result_is_the_exit_code()
    {
        var (code, program) = Run(Shapes.Int32WithArguments, "a", "b", "c");
        Assert.AreEqual(3, code, program.Describe());
    }

    [TestMethod]
    public void A_Task_function_gets_a_cancellable_token_and_exits_0()
    {
        var (code, program) = Run(Shapes.TaskWithCancellationToken);
        Assert.AreEqual(0, code, program.Describe());
        Assert.AreEqual("cancellable", program.StandardOutput);
    }

    [TestMethod]
    public void A_Task_of_int_function_gets_an_Accelerator_and_its_result_is_the_exit_code()
    {
        // 1 process + 1 argument + 40
        var (code, program) = Run(Shapes.TaskOfInt32WithEverythingInAnyOrder, "x");
        Assert.AreEqual(42, code, program.Describe());
    }

    [TestMethod]
    public void A_function_with_a_keyword_name_in_a_nested_type_runs()
    {
        var (code, program) = Run(Shapes.NestedWithKeywordName);
        Assert.AreEqual(7, code, program.Describe());
    }

    [TestMethod]
    public void The_launcher_choice_wins_over_the_build_choice()
    {
        var build = new Dictionary<string, string> { ["MainTrainingFunction"] = "finetune" };

        var (byBuild, _) = RunWith(Shapes.SeveralNamed, build, null);
        var (byLauncher, _) = RunWith(Shapes.SeveralNamed, build, new Dictionary<string, string?> { ["ACCELERATE_MAIN_TRAINING_FUNCTION"] = "EVALUATE" });

        Assert.AreEqual(12, byBuild);
        Assert.AreEqual(13, byLauncher);
    }

    [TestMethod]
    public void Several_functions_and_no_choice_fail_with_ACC2301_listing_them()
    {
        var (code, program) = RunWith(Shapes.SeveralNamed, null, null);

        Assert.AreEqual(2, code, program.Describe());
        StringAssert.Contains(program.StandardError, "[rank 0] ACC2301: This program has 3 [TrainingFunction] methods: 'pretrain' (Jobs.Pretrain()), 'finetune' (Jobs.Finetune()), 'Evaluate' (Jobs.Evaluate()).");
        StringAssert.Contains(program.StandardError, "--main_training_function NAME");
    }

    [TestMethod]
    public void An_exception_exits_1_and_is_printed_with_the_rank()
    {
        var (code, program) = Run("""
            public static class Train
            {
                [TrainingFunction]
                public static void Run() => throw new InvalidOperationException("boom");
            }
            """);

        Assert.AreEqual(1, code, program.Describe());
        StringAssert.StartsWith(program.StandardError, "[rank 0] System.InvalidOperationException: boom");
        StringAssert.Contains(program.StandardError, "at Train.Run()");
    }

    private (int Code, RunningProgram Program) Run(string source, params string[] args) => RunWith(source, null, null, args);

    private (int Code, RunningProgram Program) RunWith(string source, IReadOnlyDictionary<string, string>? build, IReadOnlyDictionary<string, string?>? environment, params string[] args)
    {
        var result = GeneratorHarness.Run(GeneratorHarness.Compile(source), build);
        Assert.IsEmpty(result.Errors, string.Join("\n", result.Errors));
        var assembly = CompiledProgram.Emit(result.Output, Path.Combine(_directory, Guid.NewGuid().ToString("N")));
        using var program = RunningProgram.StartDotnet(assembly, args, environment);
        return (program.WaitForExit(), program);
    }
}
