namespace Accelerate.Generators.Tests;

/// <summary>Training functions of every accepted shape, shared by the snapshot and compile-and-run tests.</summary>
internal static class Shapes
{
    public const string VoidWithoutParameters = """
        public static class Train
        {
            [TrainingFunction]
            public static void Run() => Console.WriteLine("ran");
        }
        """;

    public const string Int32WithArguments = """
        namespace Company.Training;

        internal static class Train
        {
            [TrainingFunction]
            internal static int Run(string[] args) => args.Length;
        }
        """;

    public const string TaskWithCancellationToken = """
        namespace Company.Training
        {
            public static class Train
            {
                [TrainingFunction]
                public static async Task Run(CancellationToken cancellationToken)
                {
                    await Task.Yield();
                    Console.WriteLine(cancellationToken.CanBeCanceled ? "cancellable" : "not cancellable");
                }
            }
        }
        """;

    public const string TaskOfInt32WithEverythingInAnyOrder = """
        public static class Train
        {
            [TrainingFunction]
            public static async Task<int> Run(CancellationToken cancellationToken, string[] args, Accelerator accelerator)
            {
                await Task.Yield();
                return accelerator.NumProcesses + args.Length + 40;
            }
        }
        """;

    public const string NestedWithKeywordName = """
        namespace Company.Training;

        public static class Outer
        {
            internal static class Inner
            {
                [TrainingFunction]
                public static int @event(string[] args) => 7;
            }
        }
        """;

    /// <summary>The example in docs/training-function.md: a method named Main that is not itself an entry point.</summary>
    public const string MainTakingAccelerator = """
        public static class Train
        {
            [TrainingFunction]
            public static void Main(Accelerator accelerator, string[] args) => Console.WriteLine(accelerator.ProcessIndex);
        }
        """;

    public const string SeveralNamed = """
        public static class Jobs
        {
            [TrainingFunction(Name = "pretrain")]
            public static int Pretrain() => 11;

            [TrainingFunction(Name = "finetune")]
            public static int Finetune() => 12;

            [TrainingFunction]
            public static int Evaluate() => 13;
        }
        """;
}
