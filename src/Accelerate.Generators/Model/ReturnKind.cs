namespace Accelerate.Generators.Model
{
    /// <summary>The accepted return types of a training function.</summary>
    internal enum ReturnKind
    {
        Void,
        Int32,
        Task,
        TaskOfInt32,
    }
}
