using Accelerate.Cli.Config;
using Accelerate.Cli.Env;
using Accelerate.Cli.Launch;
using Accelerate.Cli.SelfTest;

namespace Accelerate.Cli;

/// <summary>Entry point of the <c>accelerate</c> command: dispatches to its subcommands.</summary>
public static class Program
{
    /// <summary>Runs <c>accelerate &lt;command&gt; [args]</c> and returns the exit code.</summary>
    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.WriteLine("""
                usage: accelerate <command> [<args>]

                commands:
                  launch    start a program on N processes or N machines
                  config    create or update the configuration file
                  env       print what to paste into a bug report
                  test      check that this machine is set up right for the config's launch settings
                """);
            return args.Length == 0 ? 1 : 0;
        }

        var rest = args[1..];
        try
        {
            return args[0] switch
            {
                "launch" => LaunchCommand.Run(rest),
                "config" => ConfigCommand.Run(rest),
                "env" => EnvCommand.Run(rest),
                "test" => TestCommand.Run(rest),
                _ => Unknown(args[0]),
            };
        }
        catch (Exception e)
        {
            // Last resort: every foreseen failure has its own code and message; this one still gets a line, not a crash dump.
            var debug = args.Contains("--debug") || Environment.GetEnvironmentVariable("ACCELERATE_DEBUG_MODE") is "1" or "true" or "TRUE" or "True";
            var message = string.Join(' ', e.Message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
            Console.Error.WriteLine($"accelerate: error ACC3051: unexpected {e.GetType().Name}: {message} " +
                (debug ? "Details follow; please report them." : "Run again with --debug for the details, and report them if the message does not say what to fix."));
            if (debug) Console.Error.WriteLine(e);
            return 1;
        }
    }

    private static int Unknown(string command)
    {
        Console.Error.WriteLine($"accelerate: unknown command '{command}'. Commands: launch, config, env, test (see 'accelerate --help').");
        return 2;
    }
}
