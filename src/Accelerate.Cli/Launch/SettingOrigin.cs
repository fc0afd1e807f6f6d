namespace Accelerate.Cli.Launch;

/// <summary>Where an effective launch setting came from, highest precedence first.</summary>
internal enum SettingOrigin
{
    /// <summary>A command-line option.</summary>
    Flag,
    /// <summary>The config file.</summary>
    ConfigFile,
    /// <summary>The SLURM job step the launcher runs in (<c>SLURM_*</c>).</summary>
    Slurm,
    /// <summary>torchrun's <c>PET_*</c> variables, as a Kubeflow PyTorchJob sets them.</summary>
    Pet,
    /// <summary>An environment variable.</summary>
    Environment,
    /// <summary>Worked out by the launcher (free port, cores per process, GPUs found).</summary>
    Default,
}
