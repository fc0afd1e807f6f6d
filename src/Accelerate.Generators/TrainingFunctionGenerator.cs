using System;
using System.Collections.Generic;
using System.Linq;
using Accelerate.Generators.Emitting;
using Accelerate.Generators.Model;
using Accelerate.Generators.Parsing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Accelerate.Generators
{
    /// <summary>
    /// Generates the program's entry point for its <c>[TrainingFunction]</c> methods and reports
    /// what keeps a method from being one (ACCG001–ACCG014).
    /// </summary>
    /// <remarks>
    /// Every step's output is a small value (strings, enums, equatable arrays), never a
    /// <see cref="Compilation"/>, symbol or syntax node, so that an edit that does not touch a
    /// training function or an entry point leaves the steps cached.
    /// </remarks>
    [Generator(LanguageNames.CSharp)]
    public sealed class TrainingFunctionGenerator : IIncrementalGenerator
    {
        internal const string AttributeName = "TrainingFunctionAttribute";
        internal const string AttributeMetadataName = "Accelerate." + AttributeName;
        internal const string BuildChoiceProperty = "build_property.MainTrainingFunction";

        /// <summary>Names of the tracked pipeline steps (for tests and diagnosing caching).</summary>
        internal static class Steps
        {
            public const string Functions = nameof(Functions);
            public const string EntryPoints = nameof(EntryPoints);
            public const string Settings = nameof(Settings);
            public const string Input = nameof(Input);
            public const string Diagnostics = nameof(Diagnostics);
        }

        /// <inheritdoc />
        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
            // Every value between steps is a reference type (or a pair of them): the compiler's
            // generic pipeline code is then shared, not compiled anew for this generator.
            var functions = context.SyntaxProvider
                .ForAttributeWithMetadataName(
                    AttributeMetadataName,
                    static (node, _) => node is MethodDeclarationSyntax or LocalFunctionStatementSyntax,
                    TrainingFunctionParser.Parse)
                .WithTrackingName(Steps.Functions)
                .Collect()
                .Select(static (items, _) => items.ToEquatableArray());

            var entryPoints = context.SyntaxProvider
                .CreateSyntaxProvider(EntryPointFinder.MightBeEntryPoint, EntryPointFinder.Find)
                .Where(static entryPoint => entryPoint is not null)
                .Collect()
                .Select(static (items, _) => items.Select(static entryPoint => entryPoint!).ToEquatableArray())
                .WithTrackingName(Steps.EntryPoints);

            var settings = context.CompilationProvider
                .Combine(context.AnalyzerConfigOptionsProvider)
                .Select(static (pair, _) => new ProjectSettings(
                    pair.Left.Options.OutputKind,
                    pair.Right.GlobalOptions.TryGetValue(BuildChoiceProperty, out var value) && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null,
                    pair.Left is CSharpCompilation { LanguageVersion: >= LanguageVersion.CSharp10 }))
                .WithTrackingName(Steps.Settings);

            // Combine two at a time and turn each pair into an object: a pair holding a pair would be a new generic shape.
            var input = functions
                .Combine(entryPoints)
                .Select(static (pair, _) => new Declarations(pair.Left, pair.Right))
                .Combine(settings)
                .Select(static (pair, _) => new GenerationInput(pair.Left, pair.Right))
                .WithTrackingName(Steps.Input);

            context.RegisterSourceOutput(input, EmitEntryPoint);

            // Diagnostics go out on their own, one value each, with the compilation: a location in its syntax tree is a real
            // source location, which #pragma warning disable and [SuppressMessage] apply to (a location made from a file path
            // is not). With no diagnostic this output has nothing to redo, so edits still leave the pipeline cached.
            var diagnostics = input
                .SelectMany(static (input, _) => Diagnose(input))
                .WithTrackingName(Steps.Diagnostics)
                .Combine(context.CompilationProvider);
            context.RegisterSourceOutput(diagnostics, static (context, pair) => context.ReportDiagnostic(pair.Left.ToDiagnostic(pair.Right)));
        }

        /// <summary>What keeps each training function, or the project, from getting an entry point.</summary>
        private static EquatableArray<DiagnosticInfo> Diagnose(GenerationInput input)
        {
            var diagnostics = new List<DiagnosticInfo>();
            if (input.Declarations.Functions.Count == 0) return diagnostics.ToEquatableArray();

            var byName = new Dictionary<string, TrainingFunctionModel>(StringComparer.OrdinalIgnoreCase);
            foreach (var function in input.Declarations.Functions)
            {
                diagnostics.AddRange(function.Diagnostics);
                if (byName.TryGetValue(function.Name, out var first))
                    diagnostics.Add(DiagnosticInfo.Create(GeneratorDiagnostics.DuplicateName, function.Attribute, function.Method, function.Name, first.Method));
                else
                    byName.Add(function.Name, function);
            }

            if (!IsExecutable(input.Settings))
            {
                foreach (var function in input.Declarations.Functions)
                    diagnostics.Add(DiagnosticInfo.Create(GeneratorDiagnostics.NotExecutable, function.Attribute, function.Method, Describe(input.Settings.OutputKind)));
            }

            foreach (var entryPoint in input.Declarations.EntryPoints)
                diagnostics.Add(DiagnosticInfo.Create(GeneratorDiagnostics.EntryPointExists, entryPoint.Location, entryPoint.Description, input.Declarations.Functions[0].Method));

            if (input.Settings.BuildChoice is { } choice && !byName.ContainsKey(choice))
            {
                var names = string.Join(", ", byName.Keys.Select(n => $"'{n}'"));
                diagnostics.Add(DiagnosticInfo.Create(GeneratorDiagnostics.UnknownBuildChoice, input.Declarations.Functions[0].Attribute, choice, names));
            }
            return diagnostics.ToEquatableArray();
        }

        private static void EmitEntryPoint(SourceProductionContext context, GenerationInput input)
        {
            // A second entry point or a library would only add compiler errors to ours.
            if (!IsExecutable(input.Settings) || input.Declarations.EntryPoints.Count > 0) return;

            // The first function of each name (a second one is ACCG012), if nothing else is wrong with it.
            var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            var callable = input.Declarations.Functions.Where(function => names.Add(function.Name) && function.IsValid).ToList();
            if (callable.Count == 0) return;
            context.AddSource(EntryPointEmitter.HintName, EntryPointEmitter.Emit(callable, input.Settings.BuildChoice, input.Settings.LambdaAttributes));
        }

        private static bool IsExecutable(ProjectSettings settings) =>
            settings.OutputKind is OutputKind.ConsoleApplication or OutputKind.WindowsApplication or OutputKind.WindowsRuntimeApplication;

        private static string Describe(OutputKind kind) => kind switch
        {
            OutputKind.DynamicallyLinkedLibrary => "library (OutputType Library)",
            OutputKind.NetModule => "module",
            OutputKind.WindowsRuntimeMetadata => "Windows Runtime metadata file",
            _ => kind.ToString(),
        };
    }
}
