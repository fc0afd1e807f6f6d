namespace Accelerate.Generators.Tests;

/// <summary>The generated entry point for each accepted shape, compared with reviewed snapshots.</summary>
[TestClass]
public sealed class GeneratedSourceTests
{
    [TestMethod]
    [DataRow(nameof(Shapes.VoidWithoutParameters), Shapes.VoidWithoutParameters)]
    [DataRow(nameof(Shapes.Int32WithArguments), Shapes.Int32WithArguments)]
    [DataRow(nameof(Shapes.TaskWithCancellationToken), Shapes.TaskWithCancellationToken)]
    [DataRow(nameof(Shapes.TaskOfInt32WithEverythingInAnyOrder), Shapes.TaskOfInt32WithEverythingInAnyOrder)]
    [DataRow(nameof(Shapes.NestedWithKeywordName), Shapes.NestedWithKeywordName)]
    [DataRow(nameof(Shapes.MainTakingAccelerator), Shapes.MainTakingAccelerator)]
    [DataRow(nameof(Shapes.SeveralNamed), Shapes.SeveralNamed)]
    public void Each_accepted_shape_gets_an_entry_point_that_compiles(string shape, string source)
    {
        var result = GeneratorHarness.Run(GeneratorHarness.Compile(source));

        Snapshot.Match(shape + ".generated.txt", result.SingleSource);
        Assert.IsEmpty(result.Errors, string.Join("\n", result.Errors));
    }

    [TestMethod]
    public void The_build_choice_of_MainTrainingFunction_is_baked_into_the_entry_point()
    {
        var result = GeneratorHarness.Run(
            GeneratorHarness.Compile(Shapes.SeveralNamed),
            new Dictionary<string, string> { ["MainTrainingFunction"] = "finetune" });

        Snapshot.Match("SeveralNamedWithBuildChoice.generated.txt", result.SingleSource);
        Assert.IsEmpty(result.Errors, string.Join("\n", result.Errors));
    }

    [TestMethod]
    public void With_CSharp_9_the_entry_point_leaves_out_lambda_attributes_and_still_compiles()
    {
        var result = GeneratorHarness.Run(GeneratorHarness.Compile(
            [("Program.cs", GeneratorHarness.WithUsings(Shapes.Int32WithArguments.Replace("namespace Company.Training;", "namespace Company.Training { }")))],
            parseOptions: new Microsoft.CodeAnalysis.CSharp.CSharpParseOptions(Microsoft.CodeAnalysis.CSharp.LanguageVersion.CSharp9)));

        Snapshot.Match("Int32WithArgumentsCSharp9.generated.txt", result.SingleSource);
        Assert.IsEmpty(result.Errors, string.Join("\n", result.Errors));
    }

    [TestMethod]
    public void A_name_with_quotes_backslashes_and_a_newline_is_written_as_a_valid_literal()
    {
        var result = GeneratorHarness.Run(GeneratorHarness.Compile("""
            public static class Train
            {
                [TrainingFunction(Name = "say \"hi\"\nC:\\path")]
                public static void Run() { }
            }
            """));

        StringAssert.Contains(result.SingleSource, "FromVoid(\"say \\\"hi\\\"\\nC:\\\\path\", ");
        Assert.IsEmpty(result.Errors, string.Join("\n", result.Errors));
    }

    [TestMethod]
    public void A_project_without_training_functions_gets_nothing()
    {
        var result = GeneratorHarness.Run(GeneratorHarness.Compile("public static class Program { public static void Main() { } }"));

        Assert.IsEmpty(result.GeneratedSources);
        Assert.IsEmpty(result.GeneratorDiagnostics);
    }

    [TestMethod]
    public void The_entry_point_says_it_is_generated_code()
    {
        var result = GeneratorHarness.Run(GeneratorHarness.Compile(Shapes.VoidWithoutParameters));

        StringAssert.Contains(result.SingleSource, "[global::System.CodeDom.Compiler.GeneratedCode(\"Accelerate.Generators\", \"");
    }

    [TestMethod]
    public void The_runtime_types_only_the_entry_point_calls_are_hidden_from_completion()
    {
        foreach (var type in new[] { typeof(Accelerate.Hosting.TrainingHost), typeof(Accelerate.Hosting.TrainingFunction), typeof(Accelerate.Hosting.TrainingContext) })
        {
            var browsable = type.GetCustomAttributes(typeof(System.ComponentModel.EditorBrowsableAttribute), false).Cast<System.ComponentModel.EditorBrowsableAttribute>().SingleOrDefault();
            Assert.AreEqual(System.ComponentModel.EditorBrowsableState.Never, browsable?.State, type.Name);
        }
    }
}
