namespace Accelerate.Generators.Model
{
    /// <summary>One [TrainingFunction] method, reduced to what the entry point and the diagnostics need.</summary>
    /// <param name="Name">The selection name: <c>Name = "..."</c> or the method's name.</param>
    /// <param name="Method">The method as shown in messages, e.g. <c>Train.Main(Accelerator, string[])</c>.</param>
    /// <param name="Target">The fully qualified method to call, e.g. <c>global::Train.Main</c>.</param>
    /// <param name="Attribute">Where the attribute is applied.</param>
    /// <param name="Diagnostics">Problems found in the method alone; the method is called only when none is an error.</param>
    internal sealed record TrainingFunctionModel(
        string Name,
        string Method,
        string Target,
        EquatableArray<ParameterKind> Parameters,
        ReturnKind Return,
        SourceLocation? Attribute,
        EquatableArray<DiagnosticInfo> Diagnostics)
    {
        public bool IsValid
        {
            get
            {
                foreach (var diagnostic in Diagnostics)
                {
                    if (diagnostic.IsError) return false;
                }
                return true;
            }
        }
    }
}
