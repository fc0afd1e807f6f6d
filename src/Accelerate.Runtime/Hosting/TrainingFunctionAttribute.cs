namespace Accelerate;

/// <summary>
/// Marks the method every launched process runs: the project's source generator writes the
/// program's <c>Main</c>, which joins the process group when ranks were launched, builds the
/// <see cref="Accelerator"/>, calls this method and exits with its code.
/// </summary>
/// <remarks>
/// The method is static and accessible within the assembly; its parameters are any of
/// <see cref="Accelerator"/>, <c>string[]</c> and <see cref="System.Threading.CancellationToken"/>
/// (each at most once, in any order); it returns <c>void</c>, <c>int</c>, <see cref="System.Threading.Tasks.Task"/>
/// or <c>Task&lt;int&gt;</c>. See docs/training-function.md.
/// </remarks>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
public sealed class TrainingFunctionAttribute : Attribute
{
    /// <summary>
    /// The name <c>--main_training_function</c> (or config <c>main_training_function</c>, or MSBuild
    /// <c>MainTrainingFunction</c>) selects this method by; the method's name when not set.
    /// Names are compared ignoring case.
    /// </summary>
    public string? Name { get; set; }
}
