using System;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace Accelerate.Generators.Model
{
    /// <summary>A diagnostic to report, kept as values until the generator's output step creates it.</summary>
    internal sealed record DiagnosticInfo(string Id, SourceLocation? Location, EquatableArray<string> Arguments)
    {
        public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, SourceLocation? location, params string[] arguments) =>
            new(descriptor.Id, location, arguments.ToEquatableArray());

        /// <summary>The diagnostic, located in <paramref name="compilation"/>'s syntax tree of its file, so that suppressions in the source apply.</summary>
        public Diagnostic ToDiagnostic(Compilation compilation) =>
            Diagnostic.Create(GeneratorDiagnostics.Find(Id), Location?.ToLocation(compilation) ?? Microsoft.CodeAnalysis.Location.None, Arguments.Cast<object>().ToArray());

        public bool IsError => GeneratorDiagnostics.Find(Id).DefaultSeverity == DiagnosticSeverity.Error;
    }
}
