namespace Accelerate.Cli.Launch;

/// <summary>What every machine of one job agrees on before ranks start: the job id, the secret and the rendezvous port.</summary>
/// <param name="RunId">TORCHELASTIC_RUN_ID.</param>
/// <param name="Secret">ACCELERATE_LAUNCH_SECRET (64 hex characters).</param>
/// <param name="MasterPort">MASTER_PORT, where rank 0 serves the rendezvous store.</param>
internal sealed record JobIdentity(string RunId, string Secret, int MasterPort);
