// Measures the generator against the compilation it runs in: a synthetic project of N files, one
// of them with a [TrainingFunction]. Prints a table and one line per metric for bench/generator/run.
using System.Diagnostics;
using System.Globalization;
using Accelerate;
using Accelerate.Generators;
using Basic.Reference.Assemblies;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

var files = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 500;
const int Rounds = 5;
const int Edits = 20;

var parse = new CSharpParseOptions(LanguageVersion.Latest);
var references = Net100.References.All.Append(MetadataReference.CreateFromFile(typeof(Accelerator).Assembly.Location)).Append(MetadataReference.CreateFromFile(typeof(TorchSharp.torch).Assembly.Location)).ToArray();
var trees = Enumerable.Range(0, files).Select(i => CSharpSyntaxTree.ParseText(SyntheticFile(i), parse, $"File{i}.cs")).ToArray();
CSharpCompilation NewCompilation() => CSharpCompilation.Create("Synthetic", trees, references, new CSharpCompilationOptions(OutputKind.ConsoleApplication));
GeneratorDriver NewDriver() => CSharpGeneratorDriver.Create([new TrainingFunctionGenerator().AsSourceGenerator()], parseOptions: parse);

// Warm up the JIT for both paths.
NewDriver().RunGenerators(NewCompilation());
Emit(NewCompilation());

var compile = Median(Enumerable.Range(0, Rounds).Select(_ => Time(() => Emit(NewCompilation()))));
var firstRun = Median(Enumerable.Range(0, Rounds).Select(_ => Time(() => NewDriver().RunGenerators(NewCompilation()))));

var compilation = NewCompilation();
var driver = NewDriver().RunGenerators(compilation);
var incremental = new List<double>();
for (var edit = 0; edit < Edits; edit++)
{
    var index = 1 + edit % (files - 1); // never the file with the training function
    var old = compilation.SyntaxTrees.First(t => t.FilePath == $"File{index}.cs");
    compilation = compilation.ReplaceSyntaxTree(old, CSharpSyntaxTree.ParseText(SyntheticFile(index) + $"\n// edit {edit}\n", parse, old.FilePath));
    var current = compilation;
    incremental.Add(Time(() => driver = driver.RunGenerators(current)));
}
var generated = driver.GetRunResult();
if (generated.GeneratedTrees.Length != 1 || generated.Diagnostics.Length != 0)
    throw new InvalidOperationException("The synthetic project did not get exactly one entry point: " + string.Join("; ", generated.Diagnostics));

var share = 100 * firstRun / compile;
var incrementalMedian = Median(incremental);
Console.WriteLine($"| {files}-file project                  | median ms |");
Console.WriteLine("|-----------------------------------|----------:|");
Console.WriteLine($"| full compile (emit), no generator | {compile,9:F1} |");
Console.WriteLine($"| generator, first run              | {firstRun,9:F1} |");
Console.WriteLine($"| generator, after a one-file edit  | {incrementalMedian,9:F2} |");
Console.WriteLine($"METRIC generator_first_run_ms={firstRun.ToString("F1", CultureInfo.InvariantCulture)}");
Console.WriteLine($"METRIC generator_share_of_compile_pct={share.ToString("F2", CultureInfo.InvariantCulture)}");
Console.WriteLine($"METRIC generator_incremental_ms={incrementalMedian.ToString("F2", CultureInfo.InvariantCulture)}");

static void Emit(Compilation compilation)
{
    using var stream = new MemoryStream();
    var result = compilation.Emit(stream);
    // Without the generator the program has no Main; nothing else may fail.
    var errors = result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error && d.Id != "CS5001").ToList();
    if (errors.Count > 0) throw new InvalidOperationException(string.Join("\n", errors.Take(5)));
}

static double Time(Action action)
{
    var watch = Stopwatch.StartNew();
    action();
    return watch.Elapsed.TotalMilliseconds;
}

static double Median(IEnumerable<double> values)
{
    var sorted = values.OrderBy(v => v).ToArray();
    return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
}

static string SyntheticFile(int i)
{
    var training = i == 0
        ? """

              [Accelerate.TrainingFunction]
              public static int Train(Accelerate.Accelerator accelerator, string[] args) => args.Length;
          """
        : "";
    return $$"""
        using System;
        using System.Collections.Generic;
        using System.Linq;

        namespace Synthetic.Module{{i}};

        public sealed record Item{{i}}(int Id, string Name, double Weight);

        public static class Service{{i}}
        {
            public static double Total(IEnumerable<Item{{i}}> items) => items.Where(x => x.Weight > 0).Sum(x => x.Weight);

            public static Dictionary<string, int> Count(IEnumerable<Item{{i}}> items) =>
                items.GroupBy(x => x.Name).ToDictionary(g => g.Key, g => g.Count());

            public static int Fold(int[] values)
            {
                var acc = 0;
                for (var k = 0; k < values.Length; k++) acc = unchecked(acc * 31 + values[k]);
                return acc;
            }

            public static string Describe(Item{{i}} item) => $"{item.Id}:{item.Name}:{item.Weight:F2}";

            public static void Main{{i}}(string[] args) => Console.WriteLine(args.Length);
        {{training}}
        }
        """;
}
