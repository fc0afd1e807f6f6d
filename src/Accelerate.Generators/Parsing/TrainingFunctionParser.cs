using System.Collections.Generic;
using System.Collections.Immutable;
using System.Threading;
using Accelerate.Generators.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Accelerate.Generators.Parsing
{
    /// <summary>Reads one [TrainingFunction] method into a <see cref="TrainingFunctionModel"/>, with a diagnostic for each rule it breaks.</summary>
    internal static class TrainingFunctionParser
    {
        private static readonly SymbolDisplayFormat MessageFormat = new(
            typeQualificationStyle: SymbolDisplayTypeQualificationStyle.NameAndContainingTypes,
            genericsOptions: SymbolDisplayGenericsOptions.IncludeTypeParameters,
            memberOptions: SymbolDisplayMemberOptions.IncludeContainingType | SymbolDisplayMemberOptions.IncludeParameters,
            parameterOptions: SymbolDisplayParameterOptions.IncludeType | SymbolDisplayParameterOptions.IncludeParamsRefOut,
            miscellaneousOptions: SymbolDisplayMiscellaneousOptions.UseSpecialTypes | SymbolDisplayMiscellaneousOptions.EscapeKeywordIdentifiers);

        private static readonly SymbolDisplayFormat TypeFormat = SymbolDisplayFormat.CSharpErrorMessageFormat;

        public static TrainingFunctionModel Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
        {
            var method = (IMethodSymbol)context.TargetSymbol;
            var attribute = context.Attributes.Length > 0 ? context.Attributes[0] : null;
            var attributeLocation = SourceLocation.From(attribute?.ApplicationSyntaxReference?.GetSyntax(cancellationToken));
            var display = SymbolNames.Display(method) ?? method.ToDisplayString(MessageFormat);
            var syntax = Shape.Of(context.TargetNode);
            var diagnostics = new List<DiagnosticInfo>();

            if (syntax.IsLocalFunction)
                diagnostics.Add(DiagnosticInfo.Create(GeneratorDiagnostics.NotAccessible, SourceLocation.From(syntax.Identifier), display, "a local function"));
            else if (InaccessibleBecause(method) is { } reason)
                diagnostics.Add(DiagnosticInfo.Create(GeneratorDiagnostics.NotAccessible, SourceLocation.From(syntax.Identifier), display, reason));

            if (!method.IsStatic)
                diagnostics.Add(DiagnosticInfo.Create(GeneratorDiagnostics.NotStatic, SourceLocation.From(syntax.Identifier), display));

            if (method.IsGenericMethod)
                diagnostics.Add(DiagnosticInfo.Create(GeneratorDiagnostics.Generic, SourceLocation.From(syntax.TypeParameters) ?? SourceLocation.From(syntax.Identifier), display, "has type parameters"));
            else if (GenericContainer(method) is { } container)
                diagnostics.Add(DiagnosticInfo.Create(GeneratorDiagnostics.Generic, SourceLocation.From(syntax.Identifier), display, $"is in the generic type '{container.ToDisplayString(TypeFormat)}'"));

            var parameters = new List<ParameterKind>();
            for (var i = 0; i < method.Parameters.Length; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var parameter = method.Parameters[i];
                var location = SourceLocation.From(i < syntax.Parameters.Count ? syntax.Parameters[i] : null) ?? SourceLocation.From(syntax.Identifier);
                if (parameter.RefKind != RefKind.None)
                {
                    diagnostics.Add(DiagnosticInfo.Create(GeneratorDiagnostics.ByReference, location, parameter.Name, display, Modifier(parameter.RefKind)));
                    continue;
                }
                if (SignatureRules.ParameterKindOf(parameter.Type) is not { } kind)
                {
                    diagnostics.Add(DiagnosticInfo.Create(GeneratorDiagnostics.ParameterType, location, parameter.Name, display, parameter.Type.ToDisplayString(TypeFormat)));
                    continue;
                }
                if (parameters.Contains(kind))
                {
                    diagnostics.Add(DiagnosticInfo.Create(GeneratorDiagnostics.RepeatedParameter, location, parameter.Name, display, parameter.Type.ToDisplayString(TypeFormat)));
                    continue;
                }
                parameters.Add(kind);
            }

            var returnKind = SignatureRules.ReturnKindOf(method);
            var returnLocation = SourceLocation.From(syntax.ReturnType) ?? SourceLocation.From(syntax.Identifier);
            if (method.IsAsync && method.ReturnsVoid)
                diagnostics.Add(DiagnosticInfo.Create(GeneratorDiagnostics.AsyncVoid, returnLocation, display));
            else if (returnKind is null)
                diagnostics.Add(DiagnosticInfo.Create(GeneratorDiagnostics.ReturnType, returnLocation, display, method.ReturnType.ToDisplayString(TypeFormat)));

            if (!syntax.IsLocalFunction && SignatureRules.IsEntryPointCandidate(method))
                diagnostics.Add(DiagnosticInfo.Create(GeneratorDiagnostics.TrainingFunctionIsEntryPoint, SourceLocation.From(syntax.Identifier), display));

            var name = method.Name;
            foreach (var argument in attribute?.NamedArguments ?? ImmutableArray<KeyValuePair<string, TypedConstant>>.Empty)
            {
                if (argument.Key != "Name") continue;
                var value = argument.Value.Value as string;
                if (string.IsNullOrWhiteSpace(value))
                    diagnostics.Add(DiagnosticInfo.Create(GeneratorDiagnostics.EmptyName, attributeLocation, display));
                else
                    name = value!.Trim();
            }

            return new TrainingFunctionModel(
                name,
                display,
                SymbolNames.Target(method),
                parameters.ToEquatableArray(),
                returnKind ?? ReturnKind.Void,
                attributeLocation,
                diagnostics.ToEquatableArray());
        }

        private static string? InaccessibleBecause(IMethodSymbol method)
        {
            if (!IsReachable(method.DeclaredAccessibility)) return AccessibilityWord(method.DeclaredAccessibility);
            for (var type = method.ContainingType; type is not null; type = type.ContainingType)
            {
                if (type.IsFileLocal) return $"in the file-local type '{type.ToDisplayString(TypeFormat)}'";
                if (!IsReachable(type.DeclaredAccessibility))
                    return $"in the {AccessibilityWord(type.DeclaredAccessibility)} type '{type.ToDisplayString(TypeFormat)}'";
            }
            return null;
        }

        private static bool IsReachable(Accessibility accessibility) =>
            accessibility is Accessibility.Public or Accessibility.Internal or Accessibility.ProtectedOrInternal;

        private static string AccessibilityWord(Accessibility accessibility) => accessibility switch
        {
            Accessibility.Private => "private",
            Accessibility.Protected => "protected",
            Accessibility.ProtectedAndInternal => "private protected",
            _ => accessibility.ToString().ToLowerInvariant(),
        };

        private static INamedTypeSymbol? GenericContainer(ISymbol symbol)
        {
            for (var type = symbol.ContainingType; type is not null; type = type.ContainingType)
            {
                if (type.IsGenericType) return type;
            }
            return null;
        }

        private static string Modifier(RefKind kind) => kind switch
        {
            RefKind.Out => "out",
            RefKind.In => "in",
            RefKind.Ref => "ref",
            _ => "ref readonly",
        };

        /// <summary>The parts of a method or local function declaration that diagnostics point at.</summary>
        private readonly struct Shape
        {
            private Shape(SyntaxToken identifier, TypeSyntax? returnType, TypeParameterListSyntax? typeParameters, SeparatedSyntaxList<ParameterSyntax> parameters, bool isLocalFunction)
            {
                Identifier = identifier;
                ReturnType = returnType;
                TypeParameters = typeParameters;
                Parameters = parameters;
                IsLocalFunction = isLocalFunction;
            }

            public SyntaxToken Identifier { get; }
            public TypeSyntax? ReturnType { get; }
            public TypeParameterListSyntax? TypeParameters { get; }
            public SeparatedSyntaxList<ParameterSyntax> Parameters { get; }
            public bool IsLocalFunction { get; }

            public static Shape Of(SyntaxNode node) => node switch
            {
                MethodDeclarationSyntax m => new Shape(m.Identifier, m.ReturnType, m.TypeParameterList, m.ParameterList.Parameters, false),
                LocalFunctionStatementSyntax f => new Shape(f.Identifier, f.ReturnType, f.TypeParameterList, f.ParameterList.Parameters, true),
                _ => default,
            };
        }
    }
}
