using System.Threading;
using Accelerate.Generators.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Accelerate.Generators.Parsing
{
    /// <summary>Finds entry points the user wrote: <c>Main</c> methods C# would pick, and top-level statements.</summary>
    internal static class EntryPointFinder
    {
        private static readonly SymbolDisplayFormat MessageFormat = new(
            typeQualificationStyle: SymbolDisplayTypeQualificationStyle.NameAndContainingTypes,
            memberOptions: SymbolDisplayMemberOptions.IncludeContainingType | SymbolDisplayMemberOptions.IncludeParameters,
            parameterOptions: SymbolDisplayParameterOptions.IncludeType,
            miscellaneousOptions: SymbolDisplayMiscellaneousOptions.UseSpecialTypes);

        /// <summary>Cheap syntax test, run on every node of every edited file.</summary>
        public static bool MightBeEntryPoint(SyntaxNode node, CancellationToken _)
        {
            switch (node)
            {
                case MethodDeclarationSyntax method:
                    return method.Identifier.ValueText == "Main" && method.Modifiers.Any(SyntaxKind.StaticKeyword);
                case CompilationUnitSyntax unit:
                    foreach (var member in unit.Members)
                    {
                        if (member is GlobalStatementSyntax) return true;
                    }
                    return false;
                default:
                    return false;
            }
        }

        public static ExistingEntryPoint? Find(GeneratorSyntaxContext context, CancellationToken cancellationToken)
        {
            if (context.Node is CompilationUnitSyntax unit)
            {
                foreach (var member in unit.Members)
                {
                    if (member is GlobalStatementSyntax statement)
                    {
                        var file = System.IO.Path.GetFileName(unit.SyntaxTree.FilePath);
                        return new ExistingEntryPoint($"top-level statements in {(file.Length > 0 ? file : "a file")}", SourceLocation.From(statement));
                    }
                }
                return null;
            }

            var declaration = (MethodDeclarationSyntax)context.Node;
            if (context.SemanticModel.GetDeclaredSymbol(declaration, cancellationToken) is not IMethodSymbol method) return null;
            // A [TrainingFunction] named Main is reported by the parser with its own message.
            if (!SignatureRules.IsEntryPointCandidate(method) || SignatureRules.HasTrainingFunctionAttribute(method)) return null;
            return new ExistingEntryPoint($"'{method.ToDisplayString(MessageFormat)}'", SourceLocation.From(declaration.Identifier));
        }
    }
}
