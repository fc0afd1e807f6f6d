using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace Accelerate.Generators
{
    /// <summary>The generator's diagnostics. Codes are stable; each message says how to fix the code.</summary>
    internal static class GeneratorDiagnostics
    {
        private const string Category = "Accelerate.TrainingFunction";

        public static readonly DiagnosticDescriptor NotStatic = Error("ACCG001", "A training function must be static",
            "The [TrainingFunction] '{0}' is an instance method. Make it static: the generated entry point calls it without an instance.");

        public static readonly DiagnosticDescriptor Generic = Error("ACCG002", "A training function must not be generic",
            "The [TrainingFunction] '{0}' {1}. Remove the type parameters: the generated entry point cannot choose type arguments.");

        public static readonly DiagnosticDescriptor ParameterType = Error("ACCG003", "A training function's parameter has a type the entry point cannot pass",
            "Parameter '{0}' of the [TrainingFunction] '{1}' has type '{2}'. A training function can take Accelerate.Accelerator, string[] and System.Threading.CancellationToken; remove the parameter or compute its value inside the method.");

        public static readonly DiagnosticDescriptor RepeatedParameter = Error("ACCG004", "A training function takes the same kind of parameter twice",
            "Parameter '{0}' of the [TrainingFunction] '{1}' is a second {2}. Keep one parameter of each type.");

        public static readonly DiagnosticDescriptor ByReference = Error("ACCG005", "A training function's parameter is passed by reference",
            "Parameter '{0}' of the [TrainingFunction] '{1}' is declared '{2}'. Remove the '{2}' modifier: the entry point passes values.");

        public static readonly DiagnosticDescriptor ReturnType = Error("ACCG006", "A training function returns a type the entry point cannot use",
            "The [TrainingFunction] '{0}' returns '{1}'. Return void, int (the exit code), Task or Task<int>.");

        public static readonly DiagnosticDescriptor AsyncVoid = Error("ACCG007", "A training function must not be async void",
            "The [TrainingFunction] '{0}' is async void, so the process would exit before it finishes and its exceptions could not be reported. Return Task (or Task<int>) instead.");

        public static readonly DiagnosticDescriptor NotAccessible = Error("ACCG008", "A training function must be accessible from the generated entry point",
            "The [TrainingFunction] '{0}' is {1}, so the generated entry point cannot call it. Make it, and every type containing it, public or internal.");

        public static readonly DiagnosticDescriptor EntryPointExists = Error("ACCG009", "The project already has an entry point",
            "The project already has an entry point: {0}. The [TrainingFunction] '{1}' gets a generated Main; remove {0}, or move its code into the training function.");

        public static readonly DiagnosticDescriptor TrainingFunctionIsEntryPoint = Error("ACCG010", "A training function is itself an entry point",
            "The [TrainingFunction] '{0}' is named Main and has an entry-point signature, so the compiler would find it and the generated Main. Rename the method (for example to Train).");

        public static readonly DiagnosticDescriptor NotExecutable = Error("ACCG011", "A training function needs an executable project",
            "The [TrainingFunction] '{0}' is in a project that builds a {1}, which has no entry point. Set <OutputType>Exe</OutputType> in the project file, or use <Project Sdk=\"Accelerate.Sdk\">.");

        public static readonly DiagnosticDescriptor DuplicateName = Error("ACCG012", "Two training functions have the same name",
            "The [TrainingFunction] '{0}' has the name '{1}', as '{2}' does (names compare ignoring case). Give one of them another name with [TrainingFunction(Name = \"...\")].");

        public static readonly DiagnosticDescriptor EmptyName = Error("ACCG013", "A training function's name is empty",
            "The [TrainingFunction] '{0}' sets an empty Name. Remove Name to use the method's name, or give it a non-empty one.");

        public static readonly DiagnosticDescriptor UnknownBuildChoice = new("ACCG014", "MainTrainingFunction names no training function",
            "The MSBuild property MainTrainingFunction is '{0}', which names no [TrainingFunction]; this project has {1}. Set it to one of these names.",
            Category, DiagnosticSeverity.Warning, isEnabledByDefault: true);

        public static IReadOnlyList<DiagnosticDescriptor> All { get; } = new[]
        {
            NotStatic, Generic, ParameterType, RepeatedParameter, ByReference, ReturnType, AsyncVoid, NotAccessible,
            EntryPointExists, TrainingFunctionIsEntryPoint, NotExecutable, DuplicateName, EmptyName, UnknownBuildChoice,
        };

        private static readonly Dictionary<string, DiagnosticDescriptor> ById = All.ToDictionary(d => d.Id);

        public static DiagnosticDescriptor Find(string id) => ById[id];

        private static DiagnosticDescriptor Error(string id, string title, string message) =>
            new(id, title, message, Category, DiagnosticSeverity.Error, isEnabledByDefault: true);
    }
}
