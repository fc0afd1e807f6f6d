// Lets records and init-only setters compile for netstandard2.0, where the compiler needs this type.
namespace System.Runtime.CompilerServices
{
    internal static class IsExternalInit
    {
    }
}
