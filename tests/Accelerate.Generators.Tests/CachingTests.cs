using System.Collections;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Accelerate.Generators.Tests;

/// <summary>
/// The generator re-does no work for edits that do not touch a training function or an entry point,
/// and its pipeline holds only values (no Compilation, symbol or syntax).
/// </summary>
[TestClass]
public sealed class CachingTests
{
    private const string TrainSource = """
        public static class Train
        {
            [TrainingFunction]
            public static int Run(string[] args) => args.Length;
        }
        """;

    private static readonly string[] TrackedSteps =
    [
        TrainingFunctionGenerator.Steps.Functions,
        TrainingFunctionGenerator.Steps.EntryPoints,
        TrainingFunctionGenerator.Steps.Settings,
        TrainingFunctionGenerator.Steps.Input,
    ];

    [TestMethod]
    public void An_edit_to_an_unrelated_file_leaves_every_step_cached_or_unchanged()
    {
        var (driver, compilation) = FirstRun(("Helper.cs", "public static class Helper { public static int Value => 1; }"));

        var edited = Replace(compilation, "Helper.cs", "public static class Helper { public static int Value => 2; public static void Main2() { } }");
        var result = driver.RunGenerators(edited).GetRunResult().Results.Single();

        foreach (var step in TrackedSteps)
            AssertAllOutputs(result, step, IncrementalStepRunReason.Cached, IncrementalStepRunReason.Unchanged);
        AssertOutputs(result.TrackedOutputSteps, "SourceOutput", IncrementalStepRunReason.Cached);
    }

    [TestMethod]
    public void An_edit_below_the_training_function_in_its_own_file_changes_nothing_downstream()
    {
        var (driver, compilation) = FirstRun();

        var edited = Replace(compilation, "Train.cs", GeneratorHarness.WithUsings(TrainSource + "\npublic static class Later { public static int Value => 3; }"));
        var result = driver.RunGenerators(edited).GetRunResult().Results.Single();

        AssertAllOutputs(result, TrainingFunctionGenerator.Steps.Functions, IncrementalStepRunReason.Unchanged, IncrementalStepRunReason.Cached);
        AssertAllOutputs(result, TrainingFunctionGenerator.Steps.Input, IncrementalStepRunReason.Cached, IncrementalStepRunReason.Unchanged);
        AssertOutputs(result.TrackedOutputSteps, "SourceOutput", IncrementalStepRunReason.Cached);
    }

    [TestMethod]
    public void Changing_the_training_function_regenerates_the_entry_point()
    {
        var (driver, compilation) = FirstRun();

        var edited = Replace(compilation, "Train.cs", GeneratorHarness.WithUsings(TrainSource.Replace("int Run(string[] args) => args.Length", "Task Run() => Task.CompletedTask")));
        var run = driver.RunGenerators(edited).GetRunResult();
        var result = run.Results.Single();

        AssertAllOutputs(result, TrainingFunctionGenerator.Steps.Functions, IncrementalStepRunReason.Modified);
        AssertOutputs(result.TrackedOutputSteps, "SourceOutput", IncrementalStepRunReason.Modified);
        StringAssert.Contains(run.GeneratedTrees.Single().ToString(), "FromTask(\"Run\"");
    }

    [TestMethod]
    public void No_step_output_holds_a_compilation_symbol_or_syntax()
    {
        // An existing Main puts a value in every step (and stops generation with ACCG009).
        var (driver, _) = FirstRun(("Program.cs", "public static class Program { public static void Main() { } }"));
        Assert.IsTrue(driver.GetRunResult().Diagnostics.Any(d => d.Id == "ACCG009"));
        var result = driver.GetRunResult().Results.Single();

        foreach (var step in TrackedSteps)
        foreach (var run in result.TrackedSteps[step])
        foreach (var (value, _) in run.Outputs)
            AssertHoldsOnlyValues(value, step, depth: 0);
    }

    private static (GeneratorDriver Driver, Compilation Compilation) FirstRun(params (string Path, string Text)[] more)
    {
        var compilation = GeneratorHarness.Compile([("Train.cs", GeneratorHarness.WithUsings(TrainSource)), .. more]);
        var driver = GeneratorHarness.CreateDriver(trackSteps: true).RunGenerators(compilation);
        Assert.IsNotEmpty(driver.GetRunResult().Results.Single().TrackedSteps, "The first run tracks its steps.");
        return (driver, compilation);
    }

    private static Compilation Replace(Compilation compilation, string path, string text)
    {
        var old = compilation.SyntaxTrees.Single(t => t.FilePath == path);
        return compilation.ReplaceSyntaxTree(old, CSharpSyntaxTree.ParseText(text, GeneratorHarness.ParseOptions, path));
    }

    private static void AssertAllOutputs(GeneratorRunResult result, string step, params IncrementalStepRunReason[] allowed) =>
        AssertOutputs(result.TrackedSteps, step, allowed);

    private static void AssertOutputs(IReadOnlyDictionary<string, System.Collections.Immutable.ImmutableArray<IncrementalGeneratorRunStep>> steps, string step, params IncrementalStepRunReason[] allowed)
    {
        Assert.IsTrue(steps.ContainsKey(step), $"The step {step} did not run.");
        var reasons = steps[step].SelectMany(run => run.Outputs).Select(output => output.Reason).ToList();
        Assert.IsNotEmpty(reasons, $"The step {step} had no output.");
        foreach (var reason in reasons)
            CollectionAssert.Contains(allowed, reason, $"{step}: {string.Join(", ", reasons)}");
    }

    private static readonly Type[] Forbidden = [typeof(Compilation), typeof(ISymbol), typeof(SyntaxNode), typeof(SyntaxTree), typeof(SemanticModel), typeof(Location)];

    private static void AssertHoldsOnlyValues(object? value, string step, int depth)
    {
        if (value is null || depth > 8) return;
        var type = value.GetType();
        Assert.IsFalse(Forbidden.Any(f => f.IsAssignableFrom(type)), $"The step {step} holds a {type.Name}.");
        if (type.IsPrimitive || type.IsEnum || value is string) return;
        if (value is IEnumerable items)
        {
            foreach (var item in items) AssertHoldsOnlyValues(item, step, depth + 1);
            return;
        }
        foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
            AssertHoldsOnlyValues(field.GetValue(value), step, depth + 1);
    }
}
