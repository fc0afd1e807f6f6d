namespace Accelerate.Configuration;

/// <summary>The choices of one setting: what this product supports, and what HF accelerate knows that it rejects.</summary>
/// <typeparam name="T">The setting's type.</typeparam>
public interface IConfigChoice<T> where T : ConfigChoice
{
    /// <summary>Every supported choice.</summary>
    static abstract IReadOnlyList<T> All { get; }

    /// <summary>Spellings HF accelerate accepts that this product reads and rejects as not supported.</summary>
    static abstract IReadOnlyList<string> Unsupported { get; }
}
