namespace Accelerate.Configuration.Launch;

/// <summary>
/// One launch setting, with every name it goes by: the <c>accelerate launch</c> option, the MSBuild
/// property of <c>Accelerate.Sdk</c>, the config file key and the environment variable the launcher
/// falls back to. <see cref="LaunchSettings.All"/> lists them; the launcher's options and help, the
/// SDK's build-time checks and the command line the SDK passes to the launcher are derived from it.
/// </summary>
/// <param name="Option">The option's canonical spelling without dashes, as HF accelerate spells it (<c>num_processes</c>).</param>
/// <param name="Group">The help group, as HF accelerate groups its options.</param>
/// <param name="Kind">What the value is.</param>
/// <param name="Help">One line of help.</param>
public sealed record LaunchSetting(string Option, string Group, LaunchValueKind Kind, string Help)
{
    /// <summary>The <c>Accelerate.Sdk</c> MSBuild property, when the SDK offers the setting as one.</summary>
    public string? Property { get; init; }

    /// <summary>The config file key read when neither the option nor the property is given.</summary>
    public string? ConfigKey { get; init; }

    /// <summary>The environment variable the launcher reads when neither the option nor the config file sets it.</summary>
    public string? EnvironmentVariable { get; init; }

    /// <summary>
    /// In a SLURM job step (<c>SLURM_STEP_ID</c> set), the SLURM variables that give the setting when neither the option
    /// nor the config file does, first present wins. A <see cref="LaunchValueKind.Host"/> takes the first host of a node
    /// list; a <see cref="LaunchValueKind.Port"/> is 15000 + the last four digits of the job id (Lightning's rule).
    /// </summary>
    public string[]? SlurmVariables { get; init; }

    /// <summary>
    /// The <c>PET_*</c> variable (torchrun's environment spelling of the option, which a Kubeflow PyTorchJob sets in every
    /// pod) that gives the setting when neither the option nor the config file does.
    /// </summary>
    public string? PetVariable { get; init; }

    /// <summary>The only values accepted, when the setting is a <see cref="LaunchValueKind.Choice"/>.</summary>
    public string[]? AllowedValues { get; init; }

    /// <summary>Values HF accelerate knows that this product refuses, with the reason given in messages.</summary>
    public string[]? UnsupportedValues { get; init; }

    /// <summary>The value used when nothing sets it, as shown to users (the launcher may compute it, e.g. from the cores).</summary>
    public string? Default { get; init; }

    /// <summary>A one-letter spelling (<c>-q</c>).</summary>
    public string? ShortName { get; init; }

    /// <summary>For another launcher's spelling (torchrun's <c>nnodes</c>): the setting it gives a value to.</summary>
    public string? SpellingOf { get; init; }

    /// <summary>The build-time error code of a bad <see cref="Property"/> value (an <see cref="BuildErrorCode"/>).</summary>
    public string? InvalidValueCode { get; init; }

    /// <summary>False for a property that does not by itself send <c>dotnet run</c> through the launcher.</summary>
    public bool StartsLauncher { get; init; } = true;

    /// <summary>True when the option is followed by a value; flags are not (they still accept <c>--cpu=true|false</c>).</summary>
    public bool TakesValue => Kind != LaunchValueKind.Flag;

    /// <summary>The option as typed: <c>--num_processes</c>.</summary>
    public string Flag => "--" + Option;
}
