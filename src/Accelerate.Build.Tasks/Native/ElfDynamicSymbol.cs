namespace Accelerate.Build.Native;

/// <summary>A dynamic symbol and the version index it is bound to.</summary>
/// <param name="Index">Position in <c>.dynsym</c>, the index relocations use.</param>
/// <param name="Name">The (mangled) symbol name.</param>
/// <param name="VersionIndex">The <c>.gnu.version</c> index with the hidden bit cleared.</param>
/// <param name="IsUndefined">True when the symbol is imported from another object.</param>
public sealed record ElfDynamicSymbol(int Index, string Name, ushort VersionIndex, bool IsUndefined);
