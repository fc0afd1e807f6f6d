using System.ComponentModel;
using System.Diagnostics;

namespace Accelerate.Hosting;

/// <summary>
/// One <see cref="TrainingFunctionAttribute">[TrainingFunction]</see> as the generated entry point
/// describes it to <see cref="TrainingHost"/>: its selection name, its signature for messages, and
/// how to call it. The factory methods cover the four accepted return types.
/// </summary>
[DebuggerNonUserCode]
// Called by the generated entry point, not by user code: hidden from completion.
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class TrainingFunction
{
    private readonly Func<TrainingContext, Task<int>> _invoke;

    private TrainingFunction(string name, string method, Func<TrainingContext, Task<int>> invoke)
    {
        Name = name;
        Method = method;
        _invoke = invoke;
    }

    /// <summary>The name that selects this function (<c>ACCELERATE_MAIN_TRAINING_FUNCTION</c>).</summary>
    public string Name { get; }

    /// <summary>The method, as shown in messages, e.g. <c>Train.Main(Accelerator, string[])</c>.</summary>
    public string Method { get; }

    /// <summary>Calls the function and returns its exit code.</summary>
    [DebuggerStepThrough]
    public Task<int> InvokeAsync(TrainingContext context) => _invoke(context);

    /// <summary>A function that returns <c>void</c>: exit code 0.</summary>
    [DebuggerStepThrough]
    public static TrainingFunction FromVoid(string name, string method, Action<TrainingContext> run) =>
        new(name, method, [DebuggerStepThrough] (context) =>
        {
            run(context);
            return Task.FromResult(0);
        });

    /// <summary>A function that returns its exit code.</summary>
    [DebuggerStepThrough]
    public static TrainingFunction FromInt32(string name, string method, Func<TrainingContext, int> run) =>
        new(name, method, [DebuggerStepThrough] (context) => Task.FromResult(run(context)));

    /// <summary>A function that returns a <see cref="Task"/>: exit code 0 once it completes.</summary>
    [DebuggerStepThrough]
    public static TrainingFunction FromTask(string name, string method, Func<TrainingContext, Task> run) =>
        new(name, method, [DebuggerStepThrough] async (context) =>
        {
            await run(context).ConfigureAwait(false);
            return 0;
        });

    /// <summary>A function that returns a <c>Task&lt;int&gt;</c> with its exit code.</summary>
    [DebuggerStepThrough]
    public static TrainingFunction FromTaskOfInt32(string name, string method, Func<TrainingContext, Task<int>> run) =>
        new(name, method, run);
}
