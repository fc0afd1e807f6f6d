using System.Collections.Immutable;
using Basic.Reference.Assemblies;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using TorchSharp;

namespace Accelerate.Generators.Tests;

/// <summary>Compiles C# sources with the generator, as the compiler in a build does.</summary>
internal static class GeneratorHarness
{
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    private static readonly ImmutableArray<MetadataReference> References =
    [
        .. Net100.References.All,
        MetadataReference.CreateFromFile(typeof(Accelerator).Assembly.Location),
        MetadataReference.CreateFromFile(typeof(torch).Assembly.Location),
    ];

    public static CSharpCompilation Compile(IEnumerable<(string Path, string Text)> sources, OutputKind kind = OutputKind.ConsoleApplication, CSharpParseOptions? parseOptions = null) =>
        CSharpCompilation.Create(
            "TestProgram",
            sources.Select(s => CSharpSyntaxTree.ParseText(s.Text, parseOptions ?? ParseOptions, s.Path)),
            References,
            new CSharpCompilationOptions(kind, nullableContextOptions: NullableContextOptions.Enable));

    public static CSharpCompilation Compile(string source, OutputKind kind = OutputKind.ConsoleApplication) =>
        Compile([("Program.cs", WithUsings(source))], kind);

    /// <summary>The usings an SDK project gets implicitly, plus the runtime's namespace.</summary>
    public static string WithUsings(string source) =>
        "using System;\nusing System.Linq;\nusing System.Threading;\nusing System.Threading.Tasks;\nusing Accelerate;\n" + source;

    public static GeneratorDriver CreateDriver(IReadOnlyDictionary<string, string>? buildProperties = null, bool trackSteps = false, CSharpParseOptions? parseOptions = null) =>
        CSharpGeneratorDriver.Create(
            [new TrainingFunctionGenerator().AsSourceGenerator()],
            parseOptions: parseOptions ?? ParseOptions,
            optionsProvider: new BuildPropertiesProvider(buildProperties ?? new Dictionary<string, string>()),
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: trackSteps));

    /// <summary>Runs the generator over <paramref name="compilation"/>.</summary>
    public static Result Run(Compilation compilation, IReadOnlyDictionary<string, string>? buildProperties = null)
    {
        var parseOptions = (CSharpParseOptions?)compilation.SyntaxTrees.FirstOrDefault()?.Options;
        var driver = CreateDriver(buildProperties, parseOptions: parseOptions).RunGeneratorsAndUpdateCompilation(compilation, out var output, out var generatorDiagnostics);
        var run = driver.GetRunResult();
        return new Result(output, generatorDiagnostics, run.GeneratedTrees.Select(t => t.ToString()).ToArray());
    }

    internal sealed record Result(Compilation Output, ImmutableArray<Diagnostic> GeneratorDiagnostics, string[] GeneratedSources)
    {
        public string SingleSource => GeneratedSources.Length == 1
            ? GeneratedSources[0]
            : throw new AssertFailedException($"Expected one generated file, got {GeneratedSources.Length}. Diagnostics: {string.Join("; ", GeneratorDiagnostics)}");

        /// <summary>Errors of the whole program after generation (the compiler's and the generator's).</summary>
        public IReadOnlyList<Diagnostic> Errors =>
            Output.GetDiagnostics().Concat(GeneratorDiagnostics).Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
    }

    /// <summary>What MSBuild passes the compiler as <c>build_property.*</c> for CompilerVisibleProperty items.</summary>
    private sealed class BuildPropertiesProvider(IReadOnlyDictionary<string, string> properties) : AnalyzerConfigOptionsProvider
    {
        private readonly Options _global = new(properties.ToDictionary(p => "build_property." + p.Key, p => p.Value));

        public override AnalyzerConfigOptions GlobalOptions => _global;
        public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => Options.Empty;
        public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) => Options.Empty;

        private sealed class Options(IReadOnlyDictionary<string, string> values) : AnalyzerConfigOptions
        {
            public static readonly Options Empty = new(new Dictionary<string, string>());

            public override bool TryGetValue(string key, out string value) => values.TryGetValue(key, out value!);
        }
    }
}
