namespace Accelerate.Configuration.Launch;

/// <summary>
/// Stable codes of the build tasks (range ACC1001–1199): the libtorch repair and the SDK's launch checks,
/// listed in docs/diagnostics.md. Here rather than beside the build tasks because <see cref="LaunchSettings"/>
/// names each property's code.
/// </summary>
public static class BuildErrorCode
{
    /// <summary>A symbol version libLibTorchSharp.so needs is missing on this system and bound to real functions.</summary>
    public const string LibTorchSharpCannotLoad = "ACC1001";
    /// <summary>libLibTorchSharp.so could not be read as ELF.</summary>
    public const string LibTorchSharpNotElf = "ACC1002";
    /// <summary><c>NumProcesses</c> is not a whole number, 1 or more.</summary>
    public const string BadNumProcesses = "ACC1100";
    /// <summary><c>NumMachines</c> is not a whole number, 1 or more.</summary>
    public const string BadNumMachines = "ACC1101";
    /// <summary><c>MachineRank</c> is not a whole number, 0 or more.</summary>
    public const string BadMachineRank = "ACC1102";
    /// <summary><c>MainProcessIp</c> is not an address or host name.</summary>
    public const string BadMainProcessIp = "ACC1103";
    /// <summary><c>MainProcessPort</c> is not a port.</summary>
    public const string BadMainProcessPort = "ACC1104";
    /// <summary><c>MixedPrecision</c> is not one of the allowed values.</summary>
    public const string BadMixedPrecision = "ACC1105";
    /// <summary>A true/false property (<c>UseCpu</c>, <c>MultiGpu</c>) is neither.</summary>
    public const string BadFlag = "ACC1106";
    /// <summary><c>GpuIds</c> is not <c>all</c> or a list of GPU indexes.</summary>
    public const string BadGpuIds = "ACC1107";
    /// <summary><c>MaxRestarts</c> is not a whole number, 0 or more.</summary>
    public const string BadMaxRestarts = "ACC1108";
    /// <summary><c>GradientAccumulationSteps</c> is not a whole number, 1 or more.</summary>
    public const string BadGradientAccumulationSteps = "ACC1109";
    /// <summary><c>MainTrainingFunction</c> has spaces or quotes.</summary>
    public const string BadMainTrainingFunction = "ACC1110";
    /// <summary><c>--device</c> names a device this machine does not have (reported by Accelerate.Devices.targets).</summary>
    public const string UnknownDevice = "ACC1111";
    /// <summary>The launcher is missing (reported by Accelerate.Launch.targets).</summary>
    public const string LauncherMissing = "ACC1112";
    /// <summary><c>AccelerateConfig</c> names a file that does not exist.</summary>
    public const string ConfigFileMissing = "ACC1120";
    /// <summary>The config file is not valid.</summary>
    public const string ConfigFileInvalid = "ACC1121";
    /// <summary><c>UseCpu</c> and <c>MultiGpu</c> are both true.</summary>
    public const string CpuAndMultiGpu = "ACC1130";
    /// <summary><c>MultiGpu</c> with fewer than 2 processes.</summary>
    public const string MultiGpuNeedsTwoProcesses = "ACC1131";
    /// <summary><c>MachineRank</c> is not below <c>NumMachines</c>.</summary>
    public const string MachineRankOutOfRange = "ACC1132";
    /// <summary>Several machines but no <c>MainProcessIp</c>.</summary>
    public const string MainProcessIpMissing = "ACC1133";
    /// <summary><c>NumProcesses</c> does not divide evenly over <c>NumMachines</c>.</summary>
    public const string UnevenProcesses = "ACC1134";
    /// <summary><c>AccelerateLaunchArguments</c> repeats a flag a property sets.</summary>
    public const string RepeatedFlag = "ACC1135";
}
