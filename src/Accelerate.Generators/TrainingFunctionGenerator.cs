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

            context.RegisterSourceOutput(input, Execute);
        }

        private static void Execute(SourceProductionContext context, GenerationInput input)
        {
            if (input.Declarations.Functions.Count == 0) return;

            var callable = new List<TrainingFunctionModel>();
            var byName = new Dictionary<string, TrainingFunctionModel>(StringComparer.OrdinalIgnoreCase);
            foreach (var function in input.Declarations.Functions)
            {
                foreach (var diagnostic in function.Diagnostics) context.ReportDiagnostic(diagnostic.ToDiagnostic());
                if (byName.TryGetValue(function.Name, out var first))
                {
                    context.ReportDiagnostic(DiagnosticInfo.Create(GeneratorDiagnostics.DuplicateName, function.Attribute, function.Method, function.Name, first.Method).ToDiagnostic());
                    continue;
                }
                byName.Add(function.Name, function);
                if (function.IsValid) callable.Add(function);
            }

            var executable = input.Settings.OutputKind is OutputKind.ConsoleApplication or OutputKind.WindowsApplication or OutputKind.WindowsRuntimeApplication;
            if (!executable)
            {
                foreach (var function in input.Declarations.Functions)
                    context.ReportDiagnostic(DiagnosticInfo.Create(GeneratorDiagnostics.NotExecutable, function.Attribute, function.Method, Describe(input.Settings.OutputKind)).ToDiagnostic());
            }

            foreach (var entryPoint in input.Declarations.EntryPoints)
                context.ReportDiagnostic(DiagnosticInfo.Create(GeneratorDiagnostics.EntryPointExists, entryPoint.Location, entryPoint.Description, input.Declarations.Functions[0].Method).ToDiagnostic());

            if (input.Settings.BuildChoice is { } choice && !byName.ContainsKey(choice))
            {
                var names = string.Join(", ", byName.Keys.Select(n => $"'{n}'"));
                context.ReportDiagnostic(DiagnosticInfo.Create(GeneratorDiagnostics.UnknownBuildChoice, input.Declarations.Functions[0].Attribute, choice, names).ToDiagnostic());
            }

            // A second entry point or a library would only add compiler errors to ours.
            if (!executable || input.Declarations.EntryPoints.Count > 0 || callable.Count == 0) return;
            context.AddSource(EntryPointEmitter.HintName, EntryPointEmitter.Emit(callable, input.Settings.BuildChoice, input.Settings.LambdaAttributes));
        }

        private static string Describe(OutputKind kind) => kind switch
        {
            OutputKind.DynamicallyLinkedLibrary => "library (OutputType Library)",
            OutputKind.NetModule => "module",
            OutputKind.WindowsRuntimeMetadata => "Windows Runtime metadata file",
            _ => kind.ToString(),
        };
    }
}
