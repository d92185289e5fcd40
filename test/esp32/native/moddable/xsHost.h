/* Stand-in for Moddable's xs/platforms/esp/xsHost.h, which pulls in FreeRTOS and the ESP-IDF
   runtime; tether-esp.c uses nothing from it. The real one is compiled only by the real build. */
#pragma once
