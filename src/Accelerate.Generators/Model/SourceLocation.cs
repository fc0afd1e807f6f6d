using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Accelerate.Generators.Model
{
    /// <summary>A place in the user's code, kept as plain values so that it compares by value (a <see cref="Location"/> holds its syntax tree).</summary>
    internal sealed record SourceLocation(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
    {
        public static SourceLocation? From(Location? location) =>
            location is { IsInSource: true } ? new SourceLocation(location.SourceTree!.FilePath, location.SourceSpan, location.GetLineSpan().Span) : null;

        public static SourceLocation? From(SyntaxNode? node) => From(node?.GetLocation());

        public static SourceLocation? From(SyntaxToken token) => From(token.GetLocation());

        /// <summary>
        /// The location in <paramref name="compilation"/>'s tree of <see cref="FilePath"/>: a source location, which
        /// #pragma warning disable applies to. A file the compilation no longer has gets a location by path.
        /// </summary>
        public Location ToLocation(Compilation compilation)
        {
            foreach (var tree in compilation.SyntaxTrees)
                if (tree.FilePath == FilePath && Span.End <= tree.Length) return Location.Create(tree, Span);
            return Location.Create(FilePath, Span, LineSpan);
        }
    }
}
