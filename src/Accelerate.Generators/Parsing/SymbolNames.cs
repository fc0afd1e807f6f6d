using System.Collections.Generic;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Accelerate.Generators.Parsing
{
    /// <summary>
    /// Names of the symbols an accepted training function involves, written directly. Roslyn's
    /// general symbol display is kept for error messages, so that a build without errors does not
    /// pay for loading and compiling it (most builds run a fresh compiler process).
    /// </summary>
    internal static class SymbolNames
    {
        /// <summary>True when <paramref name="symbol"/> is declared directly in namespace <paramref name="dottedName"/>.</summary>
        public static bool IsIn(ISymbol symbol, string dottedName)
        {
            var parts = dottedName.Split('.');
            var ns = symbol.ContainingNamespace;
            for (var i = parts.Length - 1; i >= 0; i--)
            {
                if (ns is null || ns.IsGlobalNamespace || ns.Name != parts[i]) return false;
                ns = ns.ContainingNamespace;
            }
            return ns is null || ns.IsGlobalNamespace;
        }

        /// <summary>The method to call, fully qualified: <c>global::Company.Training.Train.Run</c>.</summary>
        public static string Target(IMethodSymbol method)
        {
            var parts = new List<string> { Escape(method.Name) };
            for (var type = method.ContainingType; type is not null; type = type.ContainingType) parts.Add(Escape(type.Name));
            for (var ns = method.ContainingType?.ContainingNamespace; ns is { IsGlobalNamespace: false }; ns = ns.ContainingNamespace) parts.Add(Escape(ns.Name));
            parts.Reverse();
            return "global::" + string.Join(".", parts);
        }

        /// <summary>
        /// The method as messages show it, e.g. <c>Train.Run(Accelerator, string[])</c>, for a
        /// method with no generics and only the accepted parameter types; null otherwise.
        /// </summary>
        public static string? Display(IMethodSymbol method)
        {
            if (method.IsGenericMethod) return null;
            var text = new StringBuilder();
            var types = new List<string>();
            for (var type = method.ContainingType; type is not null; type = type.ContainingType)
            {
                if (type.IsGenericType) return null;
                types.Add(Escape(type.Name));
            }
            types.Reverse();
            text.Append(string.Join(".", types)).Append('.').Append(Escape(method.Name)).Append('(');
            for (var i = 0; i < method.Parameters.Length; i++)
            {
                var parameter = method.Parameters[i];
                if (parameter.RefKind != RefKind.None) return null;
                if (i > 0) text.Append(", ");
                if (parameter.IsParams) text.Append("params ");
                switch (SignatureRules.ParameterKindOf(parameter.Type))
                {
                    case Model.ParameterKind.Accelerator: text.Append("Accelerator"); break;
                    case Model.ParameterKind.Arguments: text.Append("string[]"); break;
                    case Model.ParameterKind.CancellationToken: text.Append("CancellationToken"); break;
                    default: return null;
                }
            }
            return text.Append(')').ToString();
        }

        /// <summary>A C# string literal for <paramref name="value"/>.</summary>
        public static string Literal(string value)
        {
            var text = new StringBuilder("\"");
            foreach (var c in value)
            {
                switch (c)
                {
                    case '"': text.Append("\\\""); break;
                    case '\\': text.Append("\\\\"); break;
                    case '\n': text.Append("\\n"); break;
                    case '\r': text.Append("\\r"); break;
                    case '\t': text.Append("\\t"); break;
                    default:
                        if (char.IsControl(c) || c == '\u2028' || c == '\u2029') text.Append("\\u").Append(((int)c).ToString("x4"));
                        else text.Append(c);
                        break;
                }
            }
            return text.Append('"').ToString();
        }

        private static string Escape(string name) => SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None ? "@" + name : name;
    }
}
