using Accelerate.Configuration;

namespace Accelerate.Cli.Config;

/// <summary><c>accelerate config</c>, <c>config default</c> and <c>config update</c>.</summary>
internal static class ConfigCommand
{
    private const string Usage = """
        usage: accelerate config [--config_file PATH]
               accelerate config default [--config_file PATH] [--mixed_precision no|fp16|bf16] [--force]
               accelerate config update [--config_file PATH]

        config          ask about this machine and write the config file (needs a terminal)
        config default  write a config for this machine without questions
        config update   rewrite an existing config file with current defaults and field names

        --config_file PATH  the file to write (default: $HF_HOME/accelerate/default_config.yaml, else
                            $XDG_CACHE_HOME/huggingface/accelerate/..., else ~/.cache/huggingface/accelerate/...)
        """;

    public static int Run(string[] args) => Run(args, CommandContext.FromSystem());

    public static int Run(IReadOnlyList<string> args, CommandContext context)
    {
        var subcommand = args.Count > 0 && !args[0].StartsWith('-') ? args[0] : null;
        var rest = subcommand is null ? args : args.Skip(1).ToList();
        try
        {
            return subcommand switch
            {
                null => Questionnaire(CommandArguments.Parse(rest, "config_file"), context),
                "default" => Default(CommandArguments.Parse(rest, "config_file", "mixed_precision", "force"), context),
                "update" => Update(CommandArguments.Parse(rest, "config_file"), context),
                _ => throw new ArgumentException($"unknown subcommand '{subcommand}'. Use `accelerate config`, `config default` or `config update`."),
            };
        }
        catch (ArgumentException e)
        {
            context.Error.WriteLine($"accelerate config: {e.Message}");
            context.Error.WriteLine(Usage);
            return 2;
        }
        catch (ConfigFileException e)
        {
            context.Error.WriteLine(e.Message);
            return 1;
        }
    }

    private static string PathOf(CommandArguments arguments, CommandContext context) =>
        arguments.ConfigFile is { } explicitPath
            ? ConfigPaths.ExpandHome(explicitPath, context.Environment)
            : ConfigPaths.DefaultConfigFile(context.Environment);

    private static int Questionnaire(CommandArguments arguments, CommandContext context)
    {
        if (arguments.Help) return ShowUsage(context);
        var path = PathOf(arguments, context);
        if (!context.HasTerminal)
        {
            context.Error.WriteLine($"accelerate config: error {ConfigErrorCode.NoTerminal}: the questionnaire needs a terminal (stdin and stdout are not one). "
                + "Run `accelerate config default` to write a config for this machine without questions, or write the file yourself (see docs/config.md).");
            return 1;
        }
        var config = new ConfigQuestionnaire(context.Prompts).Ask();
        if (config is null)
        {
            context.Error.WriteLine($"accelerate config: error {ConfigErrorCode.NotSupported}: `compute_environment: AMAZON_SAGEMAKER` is not supported "
                + "by Accelerate for .NET; nothing was written. Run `accelerate config` again and choose \"This machine\".");
            return 1;
        }
        ConfigFile.Save(config, path);
        context.Out.WriteLine($"accelerate configuration saved at {path}");
        return 0;
    }

    private static int Default(CommandArguments arguments, CommandContext context)
    {
        if (arguments.Help) return ShowUsage(context);
        var precision = MixedPrecision.No;
        if (arguments.MixedPrecision is { } text && !WireNames.TryParse(text, out precision))
            throw new ArgumentException($"--mixed_precision must be one of {string.Join(", ", WireNames.Names<MixedPrecision>())}, not '{text}'.");
        var path = PathOf(arguments, context);
        if (File.Exists(path) && !arguments.Force)
        {
            context.Error.WriteLine(new ConfigFileError(ConfigErrorCode.AlreadyExists, path, 0, 0, null,
                "a config file already exists here; it was left unchanged. Pass --force to overwrite it, or run `accelerate config update` to refresh it."));
            return 1;
        }
        var cuda = context.Cuda();
        ConfigFile.Save(DefaultConfig.For(cuda.Available ? cuda.Gpus.Count : 0, precision), path);
        context.Out.WriteLine($"accelerate configuration saved at {path}");
        return 0;
    }

    private static int Update(CommandArguments arguments, CommandContext context)
    {
        if (arguments.Help) return ShowUsage(context);
        var path = PathOf(arguments, context);
        if (!File.Exists(path))
        {
            context.Error.WriteLine(new ConfigFileError(ConfigErrorCode.FileNotFound, path, 0, 0, null,
                "there is no config file to update. Create one with `accelerate config` or `accelerate config default`."));
            return 1;
        }
        ConfigFile.Save(ConfigFile.Load(path).WithDefaults(), path);
        context.Out.WriteLine($"Successfully updated the configuration file at {path}.");
        return 0;
    }

    private static int ShowUsage(CommandContext context)
    {
        context.Out.WriteLine(Usage);
        return 0;
    }
}
