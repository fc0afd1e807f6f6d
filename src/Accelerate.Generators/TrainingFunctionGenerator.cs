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
            public const string OutputKind = nameof(OutputKind);
            public const string BuildChoice = nameof(BuildChoice);
            public const string LanguageVersion = nameof(LanguageVersion);
            public const string Input = nameof(Input);
        }

        /// <inheritdoc />
        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
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
                .Select(static (entryPoint, _) => entryPoint!)
                .Collect()
                .Select(static (items, _) => items.ToEquatableArray())
                .WithTrackingName(Steps.EntryPoints);

            var outputKind = context.CompilationProvider
                .Select(static (compilation, _) => compilation.Options.OutputKind)
                .WithTrackingName(Steps.OutputKind);

            var buildChoice = context.AnalyzerConfigOptionsProvider
                .Select(static (options, _) =>
                    options.GlobalOptions.TryGetValue(BuildChoiceProperty, out var value) && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null)
                .WithTrackingName(Steps.BuildChoice);

            var lambdaAttributes = context.ParseOptionsProvider
                .Select(static (options, _) => options is CSharpParseOptions { LanguageVersion: >= LanguageVersion.CSharp10 })
                .WithTrackingName(Steps.LanguageVersion);

            var input = functions
                .Combine(entryPoints)
                .Combine(outputKind)
                .Combine(buildChoice)
                .Combine(lambdaAttributes)
                .Select(static (parts, _) => new GenerationInput(
                    parts.Left.Left.Left.Left, parts.Left.Left.Left.Right, parts.Left.Left.Right, parts.Left.Right, parts.Right))
                .WithTrackingName(Steps.Input);

            context.RegisterSourceOutput(input, Execute);
        }

        private static void Execute(SourceProductionContext context, GenerationInput input)
        {
            if (input.Functions.Count == 0) return;

            var callable = new List<TrainingFunctionModel>();
            var byName = new Dictionary<string, TrainingFunctionModel>(StringComparer.OrdinalIgnoreCase);
            foreach (var function in input.Functions)
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

            var executable = input.OutputKind is OutputKind.ConsoleApplication or OutputKind.WindowsApplication or OutputKind.WindowsRuntimeApplication;
            if (!executable)
            {
                foreach (var function in input.Functions)
                    context.ReportDiagnostic(DiagnosticInfo.Create(GeneratorDiagnostics.NotExecutable, function.Attribute, function.Method, Describe(input.OutputKind)).ToDiagnostic());
            }

            foreach (var entryPoint in input.EntryPoints)
                context.ReportDiagnostic(DiagnosticInfo.Create(GeneratorDiagnostics.EntryPointExists, entryPoint.Location, entryPoint.Description, input.Functions[0].Method).ToDiagnostic());

            if (input.BuildChoice is { } choice && !byName.ContainsKey(choice))
            {
                var names = string.Join(", ", byName.Keys.Select(n => $"'{n}'"));
                context.ReportDiagnostic(DiagnosticInfo.Create(GeneratorDiagnostics.UnknownBuildChoice, input.Functions[0].Attribute, choice, names).ToDiagnostic());
            }

            // A second entry point or a library would only add compiler errors to ours.
            if (!executable || input.EntryPoints.Count > 0 || callable.Count == 0) return;
            context.AddSource(EntryPointEmitter.HintName, EntryPointEmitter.Emit(callable, input.BuildChoice, input.LambdaAttributes));
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
