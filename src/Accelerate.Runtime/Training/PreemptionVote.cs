namespace Accelerate;

/// <summary>
/// Every rank's pre-emption signal, carried by the gradient all-reduce of a synchronizing step: one
/// bucket per synchronizing model adds two elements, SIGTERM and SIGUSR1 (1 where this rank received
/// it), and reports what the ranks agreed on here, so no separate all-reduce is needed.
/// </summary>
internal sealed class PreemptionVote(Func<int> localSignal)
{
    private const int SigTerm = 15, SigUsr1 = 10;

    /// <summary>Elements a carrying bucket adds to its flat tensor.</summary>
    public const int Length = 2;

    /// <summary>Buckets that carried the vote since <see cref="Reset"/> (the same number on every rank).</summary>
    public int Carried { get; private set; }

    /// <summary>The signal some rank received (SIGTERM before SIGUSR1, as a max over signal numbers), or 0.</summary>
    public int Agreed { get; private set; }

    public void Reset()
    {
        Carried = 0;
        Agreed = 0;
    }

    /// <summary>This rank's votes, written into a bucket before its all-reduce.</summary>
    public float[] Local()
    {
        var signal = localSignal();
        return [signal == SigTerm ? 1f : 0f, signal == SigUsr1 ? 1f : 0f];
    }

    /// <summary>The averaged votes read back after the all-reduce: any rank's vote leaves a positive average.</summary>
    public void Report(ReadOnlySpan<float> averaged)
    {
        Carried++;
        var signal = averaged[0] > 0 ? SigTerm : averaged[1] > 0 ? SigUsr1 : 0;
        Agreed = Math.Max(Agreed, signal);
    }
}
