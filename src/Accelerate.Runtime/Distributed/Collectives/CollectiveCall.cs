using System.Diagnostics;
using System.Reflection;

namespace Accelerate.Distributed.Collectives;

/// <summary>
/// What one rank is about to do, compared across ranks in debug mode
/// (<c>ACCELERATE_DEBUG_MODE=true</c>): the operation with its arguments, dtype, shape and the
/// user's call site.
/// </summary>
/// <param name="Operation">The operation and its arguments, e.g. <c>AllReduce(Sum)</c>, <c>Broadcast(source=0)</c>.</param>
/// <param name="DataType">The dtype, or empty for operations without one.</param>
/// <param name="Shape">The shape; for gathers only the dimensions after the first must match.</param>
/// <param name="CallSite">Where the user's code called it, e.g. <c>Train.cs:42 in Program.Step</c>.</param>
internal sealed record CollectiveCall(string Operation, string DataType, long[] Shape, string CallSite)
{
    /// <summary>True when the first dimension may differ between ranks (gathers of uneven sizes).</summary>
    public bool UnevenFirstDimension { get; init; }

    /// <summary>True when the two calls can meet in one collective.</summary>
    public bool Matches(CollectiveCall other) =>
        Operation == other.Operation && DataType == other.DataType && UnevenFirstDimension == other.UnevenFirstDimension &&
        (UnevenFirstDimension
            ? Shape.Length == other.Shape.Length && Shape.Skip(1).SequenceEqual(other.Shape.Skip(1))
            : Shape.SequenceEqual(other.Shape));

    /// <summary>"AllReduce(Sum) float32[4, 3] at Train.cs:42 in Program.Step".</summary>
    public string Describe() =>
        $"{Operation}{(DataType.Length == 0 ? "" : $" {DataType}[{string.Join(", ", Shape)}]")} at {CallSite}";

    /// <summary>The first frame on the stack outside this library: the user's call.</summary>
    public static string FindCallSite()
    {
        var runtime = typeof(CollectiveCall).Assembly;
        foreach (var frame in new StackTrace(1, fNeedFileInfo: true).GetFrames())
        {
            var method = frame.GetMethod();
            if (method?.DeclaringType?.Assembly is not { } assembly || assembly == runtime) continue;
            var where = frame.GetFileName() is { } file ? $"{Path.GetFileName(file)}:{frame.GetFileLineNumber()}" : $"IL offset {frame.GetILOffset()}";
            return $"{where} in {SourceName(method)}";
        }
        return "an unknown call site";
    }

    /// <summary>
    /// "Type.Method" as the user wrote it: a lambda, local function or async method compiles to a type and
    /// method named like <c>&lt;&gt;c__DisplayClass2_0.&lt;Stall&gt;b__0</c>; the user's name is the one between the brackets.
    /// </summary>
    internal static string SourceName(MethodBase method)
    {
        var type = method.DeclaringType;
        var name = method.Name;
        // Async methods and iterators: MoveNext of a state machine named <Method>d__N.
        if (type is not null && name == "MoveNext" && Bracketed(type.Name) is { } machine) name = machine;
        else if (Bracketed(name) is { } enclosing) name = enclosing;
        while (type is not null && type.Name.StartsWith('<') && type.DeclaringType is not null) type = type.DeclaringType;
        return $"{type?.Name}.{name}";
    }

    private static string? Bracketed(string name) =>
        name.StartsWith('<') && name.IndexOf('>') is > 1 and var end ? name[1..end] : null;
}
