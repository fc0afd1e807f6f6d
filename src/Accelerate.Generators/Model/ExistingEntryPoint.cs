namespace Accelerate.Generators.Model
{
    /// <summary>An entry point the user wrote: a <c>Main</c> method or top-level statements.</summary>
    /// <param name="Description">How messages name it, e.g. <c>'Program.Main(string[])'</c>.</param>
    internal sealed record ExistingEntryPoint(string Description, SourceLocation? Location);
}
