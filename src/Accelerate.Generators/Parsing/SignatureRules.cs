using Accelerate.Generators.Model;
using Microsoft.CodeAnalysis;

namespace Accelerate.Generators.Parsing
{
    /// <summary>Which types a training function and a C# entry point may take and return.</summary>
    internal static class SignatureRules
    {
        public static ParameterKind? ParameterKindOf(ITypeSymbol type)
        {
            if (type is IArrayTypeSymbol { Rank: 1, ElementType.SpecialType: SpecialType.System_String }) return ParameterKind.Arguments;
            if (IsNamed(type, "Accelerate", "Accelerator")) return ParameterKind.Accelerator;
            if (IsNamed(type, "System.Threading", "CancellationToken")) return ParameterKind.CancellationToken;
            return null;
        }

        public static ReturnKind? ReturnKindOf(IMethodSymbol method)
        {
            if (method.ReturnsVoid) return ReturnKind.Void;
            if (method.ReturnsByRef || method.ReturnsByRefReadonly) return null;
            var type = method.ReturnType;
            if (type.SpecialType == SpecialType.System_Int32) return ReturnKind.Int32;
            if (type is INamedTypeSymbol named && SymbolNames.IsIn(named, "System.Threading.Tasks"))
            {
                if (named.Name == "Task" && named.Arity == 0) return ReturnKind.Task;
                if (named.Name == "Task" && named.Arity == 1 && named.TypeArguments[0].SpecialType == SpecialType.System_Int32) return ReturnKind.TaskOfInt32;
            }
            return null;
        }

        public static bool IsInGenericType(ISymbol symbol)
        {
            for (var type = symbol.ContainingType; type is not null; type = type.ContainingType)
            {
                if (type.IsGenericType) return true;
            }
            return false;
        }

        /// <summary>True when C# would take <paramref name="method"/> as the program's entry point (§7.1 of the spec).</summary>
        public static bool IsEntryPointCandidate(IMethodSymbol method)
        {
            if (method.Name != "Main" || !method.IsStatic || method.IsGenericMethod || IsInGenericType(method)) return false;
            if (ReturnKindOf(method) is null) return false;
            if (method.Parameters.Length == 0) return true;
            return method.Parameters.Length == 1 &&
                   method.Parameters[0].RefKind == RefKind.None &&
                   method.Parameters[0].Type is IArrayTypeSymbol { Rank: 1, ElementType.SpecialType: SpecialType.System_String };
        }

        public static bool HasTrainingFunctionAttribute(ISymbol symbol)
        {
            foreach (var attribute in symbol.GetAttributes())
            {
                if (attribute.AttributeClass is { } type && IsNamed(type, "Accelerate", TrainingFunctionGenerator.AttributeName)) return true;
            }
            return false;
        }

        private static bool IsNamed(ITypeSymbol type, string ns, string name) =>
            type is INamedTypeSymbol { Arity: 0 } named && named.Name == name && named.ContainingType is null && SymbolNames.IsIn(named, ns);
    }
}
