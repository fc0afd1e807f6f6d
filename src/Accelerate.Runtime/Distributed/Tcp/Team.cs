namespace Accelerate.Distributed.Tcp;

/// <summary>Some ranks running one algorithm together (all ranks, the ranks of one machine, or one rank per machine).</summary>
/// <param name="Ranks">Global ranks of the members, in algorithm order.</param>
/// <param name="Me">This rank's index in <paramref name="Ranks"/>.</param>
internal sealed record Team(int[] Ranks, int Me)
{
    public int Size => Ranks.Length;

    public int Mod(int index) => ((index % Size) + Size) % Size;

    public int Right => Ranks[Mod(Me + 1)];

    public int Left => Ranks[Mod(Me - 1)];
}
