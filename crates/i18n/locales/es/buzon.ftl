# Catálogo de mensajes de Buzón: español.
#
# Mismas claves y mismos argumentos que en/buzon.ftl (lo comprueba
# `cargo test -p buzon-i18n`). Se habla de «tú», con palabras que entiende quien
# configura su correo sin ser informático.

## Respuestas del servidor POP3 (el texto tras +OK / -ERR y el [CÓDIGO]).

pop3-greeting = Buzón preparado.
pop3-capa = Sigue la lista de capacidades
pop3-line-runaway = Línea demasiado larga sin CRLF; se cierra la conexión.
pop3-sasl-too-long = Respuesta de autenticación demasiado larga.
pop3-line-too-long = Línea de orden demasiado larga (máximo 255 octetos, RFC 2449).
pop3-bare-lf = Las líneas deben terminar en CRLF.
pop3-too-many-bad = Demasiadas órdenes erróneas; se cierra la conexión.
pop3-unknown-command = Orden desconocida.
pop3-empty-command = Orden vacía
pop3-bad-arguments = { $command }: { $reason }
pop3-bad-msgnum = { $command }: número de mensaje no válido
pop3-not-utf8 = { $command }: el argumento no está en UTF-8
pop3-arg-password-missing = falta la contraseña
pop3-arg-user-missing = falta el nombre de usuario
pop3-arg-too-many = sobran argumentos
pop3-arg-bad-digest = el resumen debe tener 32 dígitos hexadecimales
pop3-arg-apop-usage = se esperaba: APOP nombre resumen
pop3-arg-bad-line-count = el número de líneas debe ser un número no negativo
pop3-arg-top-usage = se esperaba: TOP mensaje líneas
pop3-arg-control-in-user = carácter de control en el nombre de usuario
pop3-arg-bad-mechanism = nombre de mecanismo no válido
pop3-arg-no-arguments = no admite argumentos
pop3-arg-msgnum-missing = falta el número de mensaje
pop3-arg-bad-lang-range = rango de idioma no válido
pop3-not-allowed-now = Orden no permitida ahora.
pop3-logout = Cerrando la sesión.
pop3-logout-deleted = Cerrando la sesión; { $count ->
        [one] se ha borrado { $count } mensaje.
       *[other] se han borrado { $count } mensajes.
    }
pop3-update-failed = Algunos mensajes marcados no se han podido borrar: { $reason }
pop3-plaintext-disallowed = No se admite la autenticación en texto claro en conexiones no seguras (SSL/TLS); usa TLS (puerto 995) o STLS.
pop3-apop-needs-tls = APOP solo se acepta con TLS (puerto 995 o tras STLS): un resumen enviado sin cifrar se puede descifrar sin conexión.
pop3-apop-unavailable = APOP no está disponible en este servidor.
pop3-no-username = No se ha indicado el usuario.
pop3-tls-already = TLS ya está activo.
pop3-stls-unavailable = STLS no está disponible: no hay ningún certificado TLS configurado.
pop3-stls-begin = Empieza ya la negociación TLS.
pop3-utf8-enabled = UTF8 activado
pop3-login-first = { $command } no se permite antes de iniciar sesión: autentícate primero (USER/PASS, APOP o AUTH).
pop3-unsupported-mechanism = Mecanismo de autenticación no admitido.
pop3-auth-failed = Error de autenticación.
pop3-login-bad-user = Nombre de usuario no válido en el intercambio LOGIN.
pop3-auth-aborted = El cliente ha cancelado la autenticación.
pop3-logged-in = Sesión iniciada.
pop3-no-such-message = No existe el mensaje { $msg }: en el buzón { $count ->
        [one] hay { $count } mensaje.
       *[other] hay { $count } mensajes.
    }
pop3-message-deleted = El mensaje { $msg } está borrado.
pop3-list = { $count ->
        [one] { $count } mensaje
       *[other] { $count } mensajes
    } ({ $octets } octetos)
pop3-retr = { $octets } octetos
pop3-dele = Marcado para borrar.
pop3-rset = el buzón tiene { $count ->
        [one] { $count } mensaje
       *[other] { $count } mensajes
    } ({ $octets } octetos)
pop3-already-logged-in = Ya has iniciado sesión.
pop3-stls-after-login = STLS solo se permite antes de iniciar sesión (RFC 2595).
pop3-utf8-after-login = UTF8 debe enviarse antes de iniciar sesión (RFC 6856).
pop3-message-unavailable = El mensaje no está disponible ahora; inténtalo más tarde.
pop3-idle = Desconectado por inactividad.
pop3-shutdown = El servidor se está apagando; no se ha borrado ningún mensaje.
pop3-taken-over = Otra sesión más reciente ha tomado el buzón; no se ha borrado ningún mensaje.
pop3-auth-timeout = No has iniciado sesión en el tiempo permitido; vuelve a conectar e inicia sesión.
pop3-lang-list = Sigue la lista de idiomas:
pop3-lang-changed = Idioma cambiado
pop3-lang-unsupported = Idioma no admitido: { $range }; LANG sin argumento muestra los idiomas.
pop3-too-many-failed-logins = Demasiados intentos fallidos desde tu dirección o para este usuario; inténtalo más tarde.
pop3-auth-unavailable = La autenticación no está disponible en este momento; inténtalo más tarde.
pop3-too-many-sessions = Demasiadas sesiones para este usuario; cierra los otros programas de correo.
pop3-login-delay = Entre dos inicios de sesión deben pasar { $delay } segundos; inténtalo dentro de { $wait } segundos.
pop3-mailbox-locked = El buzón está bloqueado por otra sesión POP3; cierra el otro programa de correo o espera.
pop3-mailbox-unavailable = No se puede abrir el buzón; el administrador ya sabe por qué.
pop3-index-problem = Problema con el índice del buzón; inténtalo más tarde.
pop3-too-many-connections = Demasiadas conexiones con este servidor; inténtalo más tarde.
pop3-too-many-connections-ip = Demasiadas conexiones desde tu dirección; cierra otras sesiones y vuelve a intentarlo.

## SASL (RFC 5034).

sasl-bad-base64 = Datos base64 no válidos
sasl-plain-shape = Mensaje PLAIN no válido: se esperaba authzid NUL authcid NUL contraseña
sasl-plain-nul-password = Mensaje PLAIN no válido: NUL en la contraseña
sasl-plain-user-not-utf8 = Mensaje PLAIN no válido: el nombre de usuario no está en UTF-8
sasl-plain-authzid-not-utf8 = Mensaje PLAIN no válido: el authzid no está en UTF-8
sasl-plain-empty-user = Mensaje PLAIN no válido: nombre de usuario vacío
