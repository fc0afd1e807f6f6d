using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Accelerate.Generators.Tests;

/// <summary>
/// Each rule a [TrainingFunction] can break: the code, the place in the user's code (marked
/// <c>[|like this|]</c> in the sources), and a message that says how to fix it.
/// </summary>
[TestClass]
public sealed class DiagnosticTests
{
    [TestMethod]
    public void An_instance_method_is_ACCG001_on_its_name() => Expect("ACCG001", "Make it static", """
        public class Train
        {
            [TrainingFunction]
            public void [|Run|]() { }
        }
        """);

    [TestMethod]
    public void A_generic_method_is_ACCG002_on_its_type_parameters() => Expect("ACCG002", "Remove the type parameters", """
        public static class Train
        {
            [TrainingFunction]
            public static void Run[|<T>|]() { }
        }
        """);

    [TestMethod]
    public void A_method_of_a_generic_type_is_ACCG002_on_its_name() => Expect("ACCG002", "is in the generic type 'Train<T>'", """
        public static class Train<T>
        {
            [TrainingFunction]
            public static void [|Run|]() { }
        }
        """);

    [TestMethod]
    public void A_parameter_of_another_type_is_ACCG003_on_the_parameter() => Expect("ACCG003", "can take Accelerate.Accelerator, string[] and System.Threading.CancellationToken", """
        public static class Train
        {
            [TrainingFunction]
            public static void Run(string[] args, [|int epochs|]) { }
        }
        """);

    [TestMethod]
    public void A_second_parameter_of_the_same_type_is_ACCG004_on_it() => Expect("ACCG004", "Keep one parameter of each type", """
        public static class Train
        {
            [TrainingFunction]
            public static void Run(string[] args, [|string[] more|]) { }
        }
        """);

    [TestMethod]
    public void A_ref_parameter_is_ACCG005_on_the_parameter() => Expect("ACCG005", "Remove the 'ref' modifier", """
        public static class Train
        {
            [TrainingFunction]
            public static void Run([|ref string[] args|]) { }
        }
        """);

    [TestMethod]
    public void An_out_parameter_is_ACCG005_on_the_parameter() => Expect("ACCG005", "Remove the 'out' modifier", """
        public static class Train
        {
            [TrainingFunction]
            public static void Run([|out CancellationToken token|]) { token = default; }
        }
        """);

    [TestMethod]
    public void Another_return_type_is_ACCG006_on_the_return_type() => Expect("ACCG006", "Return void, int (the exit code), Task or Task<int>", """
        public static class Train
        {
            [TrainingFunction]
            public static [|ValueTask<int>|] Run() => default;
        }
        """);

    [TestMethod]
    public void An_async_void_method_is_ACCG007_on_the_return_type() => Expect("ACCG007", "Return Task (or Task<int>) instead", """
        public static class Train
        {
            [TrainingFunction]
            public static async [|void|] Run() => await Task.Yield();
        }
        """);

    [TestMethod]
    public void A_private_method_is_ACCG008_on_its_name() => Expect("ACCG008", "is private", """
        public static class Train
        {
            [TrainingFunction]
            private static void [|Run|]() { }
        }
        """);

    [TestMethod]
    public void A_method_in_a_private_nested_type_is_ACCG008_on_its_name() => Expect("ACCG008", "in the private type 'Outer.Train'", """
        public static class Outer
        {
            private static class Train
            {
                [TrainingFunction]
                public static void [|Run|]() { }
            }
        }
        """);

    [TestMethod]
    public void A_local_function_is_ACCG008_on_its_name() => Expect("ACCG008", "a local function", """
        public static class Train
        {
            public static void Outer()
            {
                [TrainingFunction]
                static void [|Run|]() { }
                Run();
            }
        }
        """);

    [TestMethod]
    public void A_Main_method_already_in_the_project_is_ACCG009_on_that_Main() => Expect("ACCG009", "remove 'Program.Main(string[])'", """
        public static class Program
        {
            public static int [|Main|](string[] args) => 0;
        }

        public static class Train
        {
            [TrainingFunction]
            public static void Run() { }
        }
        """, expectSource: false);

    [TestMethod]
    public void Top_level_statements_are_ACCG009_on_the_first_statement()
    {
        var (topLevel, span) = Markup.Parse("""
            [|Console.WriteLine("hello");|]
            Console.WriteLine("world");
            """);
        var compilation = GeneratorHarness.Compile(
            [("Program.cs", topLevel), ("Train.cs", GeneratorHarness.WithUsings("public static class Train { [TrainingFunction] public static void Run() { } }"))]);

        var result = GeneratorHarness.Run(compilation);

        var diagnostic = Single(result, "ACCG009");
        AssertAt(diagnostic, "Program.cs", span);
        StringAssert.Contains(diagnostic.GetMessage(), "top-level statements in Program.cs");
        Assert.IsEmpty(result.GeneratedSources);
    }

    [TestMethod]
    public void A_training_function_that_is_itself_an_entry_point_is_ACCG010_on_its_name() => Expect("ACCG010", "Rename the method", """
        public static class Train
        {
            [TrainingFunction]
            public static void [|Main|](string[] args) { }
        }
        """);

    [TestMethod]
    public void A_library_project_is_ACCG011_on_the_attribute() => Expect("ACCG011", "<OutputType>Exe</OutputType>", """
        public static class Train
        {
            [[|TrainingFunction|]]
            public static void Run() { }
        }
        """, kind: OutputKind.DynamicallyLinkedLibrary, expectSource: false);

    [TestMethod]
    public void Two_functions_with_one_name_are_ACCG012_on_the_second_attribute() => Expect("ACCG012", "as 'Train.First()' does", """
        public static class Train
        {
            [TrainingFunction(Name = "train")]
            public static void First() { }

            [[|TrainingFunction(Name = "TRAIN")|]]
            public static void Second() { }
        }
        """);

    [TestMethod]
    public void An_empty_name_is_ACCG013_on_the_attribute() => Expect("ACCG013", "Remove Name", """
        public static class Train
        {
            [[|TrainingFunction(Name = " ")|]]
            public static void Run() { }
        }
        """);

    [TestMethod]
    public void A_MainTrainingFunction_that_names_nothing_is_warning_ACCG014()
    {
        var (source, span) = Markup.Parse(GeneratorHarness.WithUsings("""
            public static class Train
            {
                [[|TrainingFunction|]]
                public static void Run() { }
            }
            """));
        var result = GeneratorHarness.Run(
            GeneratorHarness.Compile([("Program.cs", source)]),
            new Dictionary<string, string> { ["MainTrainingFunction"] = "pretrain" });

        var diagnostic = Single(result, "ACCG014");
        Assert.AreEqual(DiagnosticSeverity.Warning, diagnostic.Severity);
        AssertAt(diagnostic, "Program.cs", span);
        StringAssert.Contains(diagnostic.GetMessage(), "'pretrain', which names no [TrainingFunction]; this project has 'Run'");
    }

    [TestMethod]
    public void Warning_ACCG014_is_silenced_by_pragma_warning_disable_around_the_attribute()
    {
        var source = GeneratorHarness.WithUsings("""
            public static class Train
            {
            #pragma warning disable ACCG014
                [TrainingFunction]
            #pragma warning restore ACCG014
                public static void Run() { }
            }
            """);
        var result = GeneratorHarness.Run(
            GeneratorHarness.Compile([("Program.cs", source)]),
            new Dictionary<string, string> { ["MainTrainingFunction"] = "pretrain" });

        var reported = result.GeneratorDiagnostics.Where(d => d.Id == "ACCG014" && !d.IsSuppressed).ToList();
        Assert.IsEmpty(reported, string.Join("; ", reported));
        Assert.HasCount(1, result.GeneratedSources, "the entry point is still generated");
    }

    [TestMethod]
    public void Every_descriptor_explains_itself_and_links_to_its_row_in_the_diagnostics_index()
    {
        var index = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "diagnostics.md"));
        foreach (var descriptor in GeneratorDiagnostics.All)
        {
            Assert.IsFalse(string.IsNullOrWhiteSpace(descriptor.Description.ToString()), $"{descriptor.Id} has no description");
            var anchor = descriptor.Id.ToLowerInvariant();
            StringAssert.StartsWith(descriptor.HelpLinkUri, "https://", descriptor.Id);
            StringAssert.EndsWith(descriptor.HelpLinkUri, $"/docs/diagnostics.md#{anchor}", descriptor.Id);
            StringAssert.Contains(index, $"<a id=\"{anchor}\"></a>{descriptor.Id} |", $"docs/diagnostics.md has no row for {descriptor.Id}");
        }
    }

    [TestMethod]
    public void Every_diagnostic_code_is_unique_and_tested()
    {
        var ids = GeneratorDiagnostics.All.Select(d => d.Id).ToList();
        CollectionAssert.AllItemsAreUnique(ids);
        var tested = typeof(DiagnosticTests).GetMethods().Select(m => m.Name).ToList();
        foreach (var id in ids)
            Assert.IsTrue(tested.Any(name => name.Contains(id, StringComparison.Ordinal)), $"No test is named after {id}.");
    }

    private static void Expect(string id, string fix, string markedSource, OutputKind kind = OutputKind.ConsoleApplication, bool expectSource = true)
    {
        var (source, span) = Markup.Parse(GeneratorHarness.WithUsings(markedSource));
        var result = GeneratorHarness.Run(GeneratorHarness.Compile([("Program.cs", source)], kind));

        var diagnostic = Single(result, id);
        Assert.AreEqual(DiagnosticSeverity.Error, diagnostic.Severity);
        AssertAt(diagnostic, "Program.cs", span);
        StringAssert.Contains(diagnostic.GetMessage(), fix);
        if (!expectSource) Assert.IsEmpty(result.GeneratedSources, "No entry point is generated beside another one or into a library.");
    }

    private static Diagnostic Single(GeneratorHarness.Result result, string id)
    {
        var matching = result.GeneratorDiagnostics.Where(d => d.Id == id).ToList();
        Assert.HasCount(1, matching, $"Expected one {id}; the generator reported: {string.Join("; ", result.GeneratorDiagnostics)}");
        return matching[0];
    }

    private static void AssertAt(Diagnostic diagnostic, string file, TextSpan span)
    {
        Assert.AreEqual(file, diagnostic.Location.GetLineSpan().Path);
        Assert.AreEqual(span, diagnostic.Location.SourceSpan, $"{diagnostic.Id} is reported at the wrong place: {diagnostic}");
    }

    /// <summary>Removes one <c>[|...|]</c> marker from a source and returns the span it marked.</summary>
    private static class Markup
    {
        public static (string Source, TextSpan Span) Parse(string marked)
        {
            var start = marked.IndexOf("[|", StringComparison.Ordinal);
            var end = marked.IndexOf("|]", StringComparison.Ordinal);
            Assert.IsTrue(start >= 0 && end > start, "The test source marks no span.");
            var source = marked.Remove(end, 2).Remove(start, 2);
            return (source, TextSpan.FromBounds(start, end - 2));
        }
    }
}
