namespace Accelerate.Distributed;

/// <summary>How <see cref="ProcessGroup.AllReduce"/> and <see cref="ProcessGroup.ReduceScatter"/> combine values.</summary>
public enum ReduceOp
{
    /// <summary>Element-wise sum.</summary>
    Sum,
    /// <summary>Element-wise mean (sum divided by the world size).</summary>
    Average,
    /// <summary>Element-wise minimum.</summary>
    Min,
    /// <summary>Element-wise maximum.</summary>
    Max,
    /// <summary>Element-wise product.</summary>
    Product,
}
