using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Microsoft.CodeAnalysis;

namespace Accelerate.Generators
{
    /// <summary>The generator's diagnostics. Codes are stable; each message says how to fix the code.</summary>
    internal static class GeneratorDiagnostics
    {
        private const string Category = "Accelerate.TrainingFunction";

        // The index's address comes from the build (AccelerateDiagnosticsHelpUrl), so that it is written in one place.
        // Declared before the descriptors: static fields are initialized in order.
        private static readonly string HelpLinkBase =
            (typeof(GeneratorDiagnostics).Assembly.GetCustomAttributes(typeof(AssemblyMetadataAttribute), false)
                .OfType<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "DiagnosticsHelpUrl")?.Value ?? "")
            + "#";

        public static readonly DiagnosticDescriptor NotStatic = Error("ACCG001", "A training function must be static",
            "The [TrainingFunction] '{0}' is an instance method. Make it static: the generated entry point calls it without an instance.",
            "The generated Main calls the training function directly, without creating an instance of its type, so the method must be static.");

        public static readonly DiagnosticDescriptor Generic = Error("ACCG002", "A training function must not be generic",
            "The [TrainingFunction] '{0}' {1}. Remove the type parameters: the generated entry point cannot choose type arguments.",
            "The generated Main cannot choose type arguments for a generic training function or for the generic type that contains it.");

        public static readonly DiagnosticDescriptor ParameterType = Error("ACCG003", "A training function's parameter has a type the entry point cannot pass",
            "Parameter '{0}' of the [TrainingFunction] '{1}' has type '{2}'. A training function can take Accelerate.Accelerator, string[] and System.Threading.CancellationToken; remove the parameter or compute its value inside the method.",
            "The generated Main passes only the Accelerator, the program's arguments and a cancellation token (cancelled by Ctrl+C or the launcher); any other value must be computed inside the method.");

        public static readonly DiagnosticDescriptor RepeatedParameter = Error("ACCG004", "A training function takes the same kind of parameter twice",
            "Parameter '{0}' of the [TrainingFunction] '{1}' is a second {2}. Keep one parameter of each type.",
            "Each kind of parameter (Accelerator, string[], CancellationToken) is passed once; a second one of the same type would receive the same value.");

        public static readonly DiagnosticDescriptor ByReference = Error("ACCG005", "A training function's parameter is passed by reference",
            "Parameter '{0}' of the [TrainingFunction] '{1}' is declared '{2}'. Remove the '{2}' modifier: the entry point passes values.",
            "The generated Main passes values; ref, out and in parameters have nothing to refer to.");

        public static readonly DiagnosticDescriptor ReturnType = Error("ACCG006", "A training function returns a type the entry point cannot use",
            "The [TrainingFunction] '{0}' returns '{1}'. Return void, int (the exit code), Task or Task<int>.",
            "The return value becomes the process exit code: void and Task mean 0, int and Task<int> are the code.");

        public static readonly DiagnosticDescriptor AsyncVoid = Error("ACCG007", "A training function must not be async void",
            "The [TrainingFunction] '{0}' is async void, so the process would exit before it finishes and its exceptions could not be reported. Return Task (or Task<int>) instead.",
            "An async void method returns at its first await, so the process would exit before training ends, and its exceptions could not be reported to the launcher.");

        public static readonly DiagnosticDescriptor NotAccessible = Error("ACCG008", "A training function must be accessible from the generated entry point",
            "The [TrainingFunction] '{0}' is {1}, so the generated entry point cannot call it. Make it, and every type containing it, public or internal.",
            "The generated Main is compiled into the same assembly in another type, so it can call only public or internal methods of accessible types.");

        public static readonly DiagnosticDescriptor EntryPointExists = Error("ACCG009", "The project already has an entry point",
            "The project already has an entry point: {0}. The [TrainingFunction] '{1}' gets a generated Main; remove {0}, or move its code into the training function.",
            "A program has one entry point; the training function's generated Main would compete with an existing Main or top-level statements.");

        public static readonly DiagnosticDescriptor TrainingFunctionIsEntryPoint = Error("ACCG010", "A training function is itself an entry point",
            "The [TrainingFunction] '{0}' is named Main and has an entry-point signature, so the compiler would find it and the generated Main. Rename the method (for example to Train).",
            "A training function named Main with an entry-point signature is an entry point itself, beside the generated one.");

        public static readonly DiagnosticDescriptor NotExecutable = Error("ACCG011", "A training function needs an executable project",
            "The [TrainingFunction] '{0}' is in a project that builds a {1}, which has no entry point. Set <OutputType>Exe</OutputType> in the project file, or use <Project Sdk=\"Accelerate.Sdk\">.",
            "Only an executable has an entry point; a library cannot be launched.");

        public static readonly DiagnosticDescriptor DuplicateName = Error("ACCG012", "Two training functions have the same name",
            "The [TrainingFunction] '{0}' has the name '{1}', as '{2}' does (names compare ignoring case). Give one of them another name with [TrainingFunction(Name = \"...\")].",
            "Training functions are chosen by name (--main_training_function, MainTrainingFunction, the config file or ACCELERATE_MAIN_TRAINING_FUNCTION), ignoring case, so two with one name cannot be told apart.");

        public static readonly DiagnosticDescriptor EmptyName = Error("ACCG013", "A training function's name is empty",
            "The [TrainingFunction] '{0}' sets an empty Name. Remove Name to use the method's name, or give it a non-empty one.",
            "An empty Name could never be chosen; without Name the method's own name is used.");

        public static readonly DiagnosticDescriptor UnknownBuildChoice = Create("ACCG014", "MainTrainingFunction names no training function",
            "The MSBuild property MainTrainingFunction is '{0}', which names no [TrainingFunction]; this project has {1}. Set it to one of these names.",
            "MainTrainingFunction is compiled in as the default choice among several training functions; a name that matches none would fail every run that does not choose another.",
            DiagnosticSeverity.Warning);

        public static IReadOnlyList<DiagnosticDescriptor> All { get; } = new[]
        {
            NotStatic, Generic, ParameterType, RepeatedParameter, ByReference, ReturnType, AsyncVoid, NotAccessible,
            EntryPointExists, TrainingFunctionIsEntryPoint, NotExecutable, DuplicateName, EmptyName, UnknownBuildChoice,
        };

        private static readonly Dictionary<string, DiagnosticDescriptor> ById = All.ToDictionary(d => d.Id);

        public static DiagnosticDescriptor Find(string id) => ById[id];

        /// <summary>Where each code is explained: its row in docs/diagnostics.md.</summary>
        internal static string HelpLink(string id) => HelpLinkBase + id.ToLowerInvariant();

        private static DiagnosticDescriptor Error(string id, string title, string message, string description) =>
            Create(id, title, message, description, DiagnosticSeverity.Error);

        private static DiagnosticDescriptor Create(string id, string title, string message, string description, DiagnosticSeverity severity) =>
            new(id, title, message, Category, severity, isEnabledByDefault: true, description, HelpLink(id));
    }
}
